"""Test fixtures: a real Tasklette server on a real SQLite file, driven over real HTTP."""

from __future__ import annotations

import asyncio
import itertools
import socket
import sqlite3
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from tasklette.app import create_app
from tasklette.services import tokens, users
from tasklette.services.permissions import Actor
from tasklette.settings import load_settings

T = TypeVar("T")
_names = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A uvicorn server running create_app() in a background thread."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
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
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (e.g. a service call on its database)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    @property
    def db(self) -> Any:
        return self.app.state.db

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read rows straight from the database file, as a second process would."""
        conn = sqlite3.connect(f"file:{self.settings.database_path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()


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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("data")).start()
    yield server
    server.stop()


@pytest.fixture
def make_user(server: Server) -> Iterator[Any]:
    """Create users with tokens; their clients are closed after the test."""
    clients: list[httpx.Client] = []

    def make(prefix: str = "user") -> User:
        username = f"{prefix}{next(_names)}"
        row = server.call(users.create(server.db, username, "correct horse battery"))
        actor = Actor(row["id"], row["username"], row["display_name"])
        _, secret = server.call(tokens.create(server.db, actor, "tests"))
        client = httpx.Client(base_url=server.base_url, timeout=30,
                              headers={"Authorization": f"Bearer {secret}"})
        clients.append(client)
        return User(row["id"], row["username"], secret, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def anon(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
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
