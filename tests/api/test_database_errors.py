"""A busy or unreachable database is a 503 to retry; any other database error is a 500.

Each case is the real thing: a lock held by another SQLite connection, a column a
query names that the table no longer has, a PostgreSQL server that stops answering,
a pool whose every connection is taken.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklette.services import tokens
from tasklette.services.permissions import Actor
from tests.conftest import POSTGRES_URL, Server, User, _admin, _insert_user, free_port, run_sync
from tests.web.conftest import Browser

_names = iter(range(1, 1_000_000))


def person(server: Server, name: str) -> User:
    row = server.call(_insert_user(server, name))
    actor = Actor(row["id"], row["username"], row["display_name"])
    _, secret = server.call(tokens.create(server.db, actor, "tests"))
    client = httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"authorization": f"Bearer {secret}"})
    return User(row["id"], row["username"], secret, client)


def is_retry_later(response: httpx.Response, page: bool) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    if page:
        assert response.headers["content-type"].startswith("text/html")
        assert "<html" in response.text and "Try again in a moment" in response.text
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert "try again" in response.json()["detail"]


def project_count(server: Server) -> int:
    return int(server.sql("SELECT COUNT(*) FROM projects")[0][0])


# --- SQLite -------------------------------------------------------------------------------


@pytest.fixture
def lone_server(tmp_path: Path) -> Iterator[Server]:
    """A server of its own: these tests break its database on purpose."""
    server = Server(tmp_path, sqlite_busy_timeout_ms=50).start()
    yield server
    server.stop()


def test_a_write_lock_held_elsewhere_is_503_on_the_api_and_a_page(lone_server: Server
                                                                   ) -> None:
    user = person(lone_server, "locked")
    tab = Browser(lone_server, user)
    other = sqlite3.connect(lone_server.settings.database_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing, say `tasklette import`
        is_retry_later(user.client.post("/api/v1/projects", json={"name": "Wait"}), page=False)
        is_retry_later(tab.post("/projects", {"name": "Wait"}), page=True)
        blocked = tab.htmx("POST", "/projects", data={"name": "Wait"})
        assert blocked.status_code == 503 and blocked.headers["retry-after"] == "1"
        assert blocked.headers["hx-reswap"] == "none" and "Try again" in blocked.text
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert project_count(lone_server) == 0
    assert user.client.post("/api/v1/projects", json={"name": "Now"}).status_code == 201
    tab.close()
    user.client.close()


def test_a_real_sql_error_is_a_500_with_its_traceback(lone_server: Server,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    user = person(lone_server, "broken")
    assert user.client.post("/api/v1/projects", json={"name": "Fine"}).status_code == 201
    tab = Browser(lone_server, user)
    # A migration gone wrong: the column the queries name is no longer there.
    other = sqlite3.connect(lone_server.settings.database_path, isolation_level=None)
    other.execute("ALTER TABLE projects RENAME COLUMN description TO about")
    other.close()
    with caplog.at_level(logging.ERROR, logger="tasklette"):
        for response in (user.client.get("/api/v1/projects"), tab.page("/projects")):
            assert response.status_code == 500, response.text
            assert "retry-after" not in response.headers
            assert "busy" not in response.text
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert logged, "the error was not logged with its traceback"
    exc = logged[0].exc_info[1]  # type: ignore[index]
    assert isinstance(exc, sqlite3.OperationalError) and "no such column" in str(exc)
    tab.close()
    user.client.close()


# --- PostgreSQL ---------------------------------------------------------------------------


class Proxy:
    """A TCP relay in front of PostgreSQL on loopback, to take the server away and back."""

    def __init__(self, target_port: int) -> None:
        self.port, self.target_port = free_port(), target_port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    def start(self) -> None:
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards."""
    name = f"tasklette_unavailable_{os.getpid()}_{next(_names)}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _pg_port() -> int:
    host = POSTGRES_URL.split("@")[-1].split("/")[0]
    return int(host.rsplit(":", 1)[1]) if ":" in host else 5432


needs_postgres = pytest.mark.skipif(not POSTGRES_URL,
                                    reason="TASKLETTE_TEST_POSTGRES_URL is not set")


@needs_postgres
def test_a_postgres_server_gone_is_503_and_back_is_200(tmp_path: Path, pg_database: str
                                                       ) -> None:
    proxy = Proxy(_pg_port())
    proxy.start()
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/{pg_database}"
    server = Server(tmp_path, database_url=url).start()
    try:
        user = person(server, "away")
        tab = Browser(server, user)
        assert user.client.post("/api/v1/projects", json={"name": "Before"}).status_code == 201
        proxy.stop()  # the server goes away: connections cut, new ones refused
        for _ in range(2):  # open connections die, then new ones are refused
            is_retry_later(user.client.get("/api/v1/projects"), page=False)
            is_retry_later(user.client.post("/api/v1/projects", json={"name": "X"}),
                           page=False)
            is_retry_later(tab.page("/projects"), page=True)
        proxy.start()
        assert user.client.get("/api/v1/projects").status_code == 200
        assert [p["name"] for p in user.client.get("/api/v1/projects").json()] == ["Before"]
        tab.close()
        user.client.close()
    finally:
        server.stop()
        proxy.stop()
        proxy.close()


@needs_postgres
def test_an_exhausted_pool_is_503_after_the_acquire_timeout(tmp_path: Path,
                                                            pg_database: str) -> None:
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + pg_database
    server = Server(tmp_path, database_url=url, database_pool_size=1,
                    database_acquire_timeout_ms=200).start()
    try:
        user = person(server, "queued")
        tab = Browser(server, user)
        held, release = threading.Event(), threading.Event()

        async def hold() -> None:
            async with server.db.reading():  # a long request keeps the only connection
                held.set()
                while not release.is_set():
                    await asyncio.sleep(0.01)

        assert server._loop is not None
        holding = asyncio.run_coroutine_threadsafe(hold(), server._loop)
        assert held.wait(10)
        try:
            is_retry_later(user.client.get("/api/v1/projects"), page=False)
            is_retry_later(tab.page("/projects"), page=True)
        finally:
            release.set()
            holding.result(10)
        assert user.client.get("/api/v1/projects").status_code == 200
        tab.close()
        user.client.close()
    finally:
        server.stop()

