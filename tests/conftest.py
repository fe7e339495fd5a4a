"""Test fixtures: a real Tasklette server on a real SQLite file, driven over real HTTP."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import uvicorn

from tasklette.app import create_app
from tasklette.services import tokens, users
from tasklette.services.permissions import Actor
from tasklette.settings import load_settings
from tasklette.storage import users as user_store
from tasklette.storage.postgres import to_numbered
from tests import contract  # every API answer the suite's clients get is checked

T = TypeVar("T")
_names = itertools.count(1)

POSTGRES_URL = os.environ.get("TASKLETTE_TEST_POSTGRES_URL", "")
# The suite runs on SQLite, and on PostgreSQL too when a server is named.
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
# For what only PostgreSQL has (several writers at once, several processes on one
# database): `server` on PostgreSQL alone, where one is named.
on_postgresql_only = pytest.mark.parametrize(
    "server", [b for b in BACKENDS if b == "postgresql"], indirect=True)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: the main thread may already run a loop
    (Playwright's sync API keeps one there once the browser tests have started)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(check: Any, timeout: float = 10.0) -> None:
    """Wait until `check()` is true (work done after a response, e.g. a sweep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {timeout} s: {check}")
        time.sleep(0.02)


class Server:
    """A uvicorn server running create_app() in a background thread."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        # Deleted files go at once (after the next sweep), not after the usual grace.
        settings.setdefault("blob_grace_seconds", 0)
        self.settings = load_settings(data_dir=data_dir, **settings)
        self.app = create_app(self.settings)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self._server = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._server.serve())
        # Tasks still running (a stream's disconnect watcher, say) end with the loop.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def start(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        broker = getattr(self.app.state, "broker", None)
        if broker is not None and self._loop is not None and self._loop.is_running():
            # As SIGTERM does for `tasklette serve`: end the open event streams first.
            self._loop.call_soon_threadsafe(broker.close_all, "the server is shutting down")
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (e.g. a service call on its database)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    @property
    def db(self) -> Any:
        return self.app.state.db

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Read rows straight from the database, as a second process would.

        Rows can be read by index and by column name, on either engine.
        """
        if self.settings.database_url:
            return self.call(self._postgres_rows(query, params))
        conn = sqlite3.connect(f"file:{self.settings.database_path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    async def _postgres_rows(self, query: str, params: tuple[Any, ...]) -> list[Any]:
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            return list(await conn.fetch(to_numbered(query), *params))
        finally:
            await conn.close()


@dataclass
class User:
    """A user with an API token and an HTTP client that sends it."""

    id: int
    username: str
    token: str
    client: httpx.Client

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.username, self.username)


PASSWORD = "correct horse battery"
_password_hash: list[str] = []


async def _insert_user(server: Server, username: str) -> dict[str, Any]:
    """A user whose password is PASSWORD; argon2 runs once per session, not per user."""
    if not _password_hash:
        _password_hash.append(await users.hash_password(PASSWORD))
    async with server.db.transaction() as tx:
        return await user_store.insert(tx, username, username, _password_hash[0], False)


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running server on a fresh database of each engine."""
    data_dir = tmp_path_factory.mktemp("data")
    if request.param == "sqlite":
        server = Server(data_dir).start()
        yield server
        server.stop()
        return
    name = f"tasklette_test_{os.getpid()}_{next(_names)}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        server = Server(data_dir, database_url=url).start()
        yield server
        server.stop()
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def make_user(server: Server) -> Iterator[Any]:
    """Create users with tokens; their clients are closed after the test."""
    clients: list[httpx.Client] = []

    def make(prefix: str = "user") -> User:
        username = f"{prefix}{next(_names)}"
        row = server.call(_insert_user(server, username))
        actor = Actor(row["id"], row["username"], row["display_name"])
        _, secret = server.call(tokens.create(server.db, actor, "tests"))
        client = contract.client(base_url=server.base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"})
        clients.append(client)
        return User(row["id"], row["username"], secret, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def anon(server: Server) -> Iterator[httpx.Client]:
    with contract.client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def owner(make_user: Any) -> User:
    return make_user("owner")  # type: ignore[no-any-return]


@pytest.fixture
def project(owner: User) -> dict[str, Any]:
    response = owner.client.post("/api/v1/projects", json={"name": "Launch"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def add_member(owner: User, project_id: int, user: User, role: str) -> None:
    response = owner.client.post(f"/api/v1/projects/{project_id}/members",
                                 json={"username": user.username, "role": role})
    assert response.status_code == 201, response.text
