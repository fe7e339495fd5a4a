"""Live updates across processes: two servers on one PostgreSQL database, or one SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tasklette.storage import events
from tests.conftest import POSTGRES_URL, _admin, run_sync
from tests.live_server import LiveServer, _child_env, free_port
from tests.sse import Stream

needs_postgres = pytest.mark.skipif(not POSTGRES_URL,
                                    reason="needs TASKLETTE_TEST_POSTGRES_URL")


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer, str]]:
    name = f"tasklette_live_{os.getpid()}"
    run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    first = second = None
    try:
        first = LiveServer(tmp_path / "one", "--database", url).start()
        second = LiveServer(tmp_path / "two", "--database", url).start()
        yield first, second, url
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _setup(server: LiveServer, url: str) -> tuple[httpx.Client, str, dict[str, Any]]:
    """A user and a token made with the CLI (on the same database), and a project."""
    env = {**os.environ, "TASKLETTE_DATABASE_URL": url}
    cli = [sys.executable, "-m", "tasklette"]
    subprocess.run([*cli, "user", "create", "ada", "--password", "analytical engine 1843"],
                   env=env, check=True, capture_output=True)
    made = subprocess.run([*cli, "token", "create", "ada"], env=env, check=True,
                          capture_output=True, text=True)
    secret = made.stdout.strip().splitlines()[-1]
    client = httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"})
    project = client.post("/api/v1/projects", json={"name": "Shared"}).json()
    return client, secret, project


@needs_postgres
def test_a_write_through_one_process_reaches_a_stream_on_the_other(
        two_processes: tuple[LiveServer, LiveServer, str]) -> None:
    first, second, url = two_processes
    client, secret, project = _setup(first, url)
    auth = {"Authorization": f"Bearer {secret}"}
    on_second = Stream(f"{second.url}/api/v1/projects/{project['id']}/events", auth)
    on_first = Stream(f"{first.url}/api/v1/projects/{project['id']}/events", auth)
    try:
        column = client.get(f"/api/v1/projects/{project['id']}/columns").json()[0]["id"]
        created = client.post(f"/api/v1/projects/{project['id']}/tasks",
                              json={"title": "From one", "column_id": column}).json()
        (seen,) = on_second.events(1, timeout=2)
        assert seen.event == "task.created"
        assert seen.data["payload"]["task"]["id"] == created["id"]
        # And the other way round, through the second process.
        with httpx.Client(base_url=second.url, headers=auth, timeout=30) as other:
            moved = other.post(f"/api/v1/tasks/{created['id']}/move",
                               json={"column_id": column, "position": 0})
            assert moved.status_code == 200
        assert [f.event for f in on_first.events(2, timeout=2)] == ["task.created",
                                                                    "task.moved"]
        assert on_second.events(1, timeout=2)[0].event == "task.moved"

        # The listener's connection is cut: it reconnects and catches up from the table.
        run_sync(_terminate_listeners(url))
        for n in range(3):
            client.post(f"/api/v1/projects/{project['id']}/tasks",
                        json={"title": f"While cut {n}", "column_id": column})
        caught_up = on_second.events(3, timeout=10)
        assert [f.data["payload"]["task"]["title"] for f in caught_up] == \
            ["While cut 0", "While cut 1", "While cut 2"]

        # A client that switches process resumes where it was, missing nothing.
        last = caught_up[-1].id
        on_second.close()
        client.post(f"/api/v1/projects/{project['id']}/tasks",
                    json={"title": "While away", "column_id": column})
        resumed = Stream(f"{first.url}/api/v1/projects/{project['id']}/events",
                         {**auth, "Last-Event-ID": str(last)})
        try:
            (missed,) = resumed.events(1)
            assert missed.data["payload"]["task"]["title"] == "While away"
            assert resumed.quiet(0.3) == []
        finally:
            resumed.close()
    finally:
        on_first.close()
        on_second.close()
        client.close()


async def _terminate_listeners(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'")
        assert killed >= 2
    finally:
        await conn.close()



# --- one SQLite file: one server, and the CLI beside it -----------------------------------

def _cli(data_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tasklette", *args, "--data-dir", str(data_dir)],
                          env=_child_env(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data").start()
    yield server
    server.stop()


def test_a_second_server_on_the_same_sqlite_file_is_refused(
        sqlite_server: LiveServer) -> None:
    try:
        second = _cli(sqlite_server.data_dir, "serve", "--host", "127.0.0.1",
                      "--port", str(free_port()), timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("a second server started on the same SQLite file") from None
    assert second.returncode != 0
    assert "PostgreSQL" in second.stderr and "already" in second.stderr, second.stderr
    # The first one serves on, untroubled.
    assert httpx.get(sqlite_server.url + "/readyz").status_code == 200


def _table_events(data_dir: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{data_dir / 'tasklette.db'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT id, project_id, actor_id, kind, payload FROM events "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()
    return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]


def test_cli_writes_while_a_server_runs_reach_its_streams_in_order(
        sqlite_server: LiveServer) -> None:
    """`tasklette demo` in another process: a teammate's open notification stream gets
    every event that concerns her, in id order, once; so does a board's stream for
    tasks another process adds to it, interleaved with the server's own writes."""
    data_dir = sqlite_server.data_dir
    created = _cli(data_dir, "user", "create", "ana", "--password", "a long password 1")
    assert created.returncode == 0, created.stderr
    made = _cli(data_dir, "token", "create", "ana")
    assert made.returncode == 0, made.stderr
    auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    mine = Stream(f"{sqlite_server.url}/api/v1/me/events", auth)
    try:
        demo = _cli(data_dir, "demo", "--owner", "demo", timeout=120)
        assert demo.returncode == 0, demo.stderr
        ana = _table_events(data_dir)
        ana_id = next(e["payload"]["member"]["id"] for e in ana if e["kind"] == "member.added"
                      and e["payload"]["member"]["username"] == "ana")
        expected = [e["id"] for e in ana
                    if ana_id in events.recipients(e["actor_id"], e["kind"], e["payload"])]
        assert len(expected) > 5
        received = [f.id for f in mine.events(len(expected), timeout=10)]
        assert received == expected
        assert mine.quiet(0.5) == []
    finally:
        mine.close()

    with httpx.Client(base_url=sqlite_server.url, headers=auth, timeout=30) as client:
        project = client.post("/api/v1/projects", json={"name": "Both"}).json()
        board = Stream(f"{sqlite_server.url}/api/v1/projects/{project['id']}/events", auth)
        try:
            script = subprocess.Popen(
                [sys.executable, "-c", _WRITER, str(data_dir), str(ana_id), str(project["id"])],
                env=_child_env(), stdin=subprocess.DEVNULL)
            for n in range(20):
                created = client.post(f"/api/v1/projects/{project['id']}/tasks",
                                      json={"title": f"server {n}"})
                assert created.status_code == 201, created.text
            assert script.wait(60) == 0
            stored = [e["id"] for e in _table_events(data_dir)
                      if e["project_id"] == project["id"] and e["kind"] == "task.created"]
            assert len(stored) == 40
            assert [f.id for f in board.events(40, timeout=10)] == stored
            assert board.quiet(0.5) == []
        finally:
            board.close()


# Another process writing to the same SQLite file through the services, as the CLI does.
_WRITER = """
import asyncio, sys
from tasklette.services import tasks
from tasklette.services.permissions import Actor
from tasklette.settings import load_settings
from tasklette.storage.open import open_database

async def main():
    db = open_database(load_settings(data_dir=sys.argv[1]))
    try:
        for n in range(20):
            await tasks.create(db, Actor(int(sys.argv[2]), "ana"), int(sys.argv[3]),
                               tasks.TaskFields(title=f"other process {n}"))
    finally:
        await db.close()

asyncio.run(main())
"""
