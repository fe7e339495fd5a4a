"""Live updates across processes: two servers on one PostgreSQL database, or one SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import POSTGRES_URL, _admin, run_sync
from tests.live_server import LiveServer
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

