"""Many writers at once: nothing lost, nothing locked, positions stay consistent."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Server, User, on_postgresql_only
from tests.live_server import LiveServer

WRITERS = 16
SECONDS = 3.0


def test_sixteen_concurrent_writers(owner: User, project: dict[str, Any],
                                    server: Server) -> None:
    hammer(server, owner, project, [server.base_url])


@on_postgresql_only  # on SQLite a second server is refused (tests/test_live_processes.py)
def test_two_processes_with_sixteen_writers_each(owner: User, project: dict[str, Any],
                                                 server: Server, tmp_path: Path) -> None:
    """A second `tasklette serve` on the same PostgreSQL database: writers spread over
    both processes lose nothing and break no order."""
    other = LiveServer(tmp_path, "--database", server.settings.database_url).start()
    try:
        hammer(server, owner, project, [server.base_url, other.url], writers=2 * WRITERS)
    finally:
        other.stop()


def hammer(server: Server, owner: User, project: dict[str, Any], base_urls: list[str],
           writers: int = WRITERS) -> None:
    """`writers` clients create, move and edit for SECONDS, spread over `base_urls`;
    then every acknowledged change is there exactly once and positions are whole."""
    pid = project["id"]
    columns = [c["id"] for c in owner.client.get(f"/api/v1/projects/{pid}/columns").json()]
    shared = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                               json={"title": "shared"}).json()
    created: list[int] = []
    statuses: Counter[int] = Counter()
    shared_updates = 0
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def writer(n: int) -> None:
        nonlocal shared_updates
        rng = random.Random(n)
        mine: list[int] = []
        with httpx.Client(base_url=base_urls[n % len(base_urls)], timeout=30,
                          headers={"Authorization": f"Bearer {owner.token}"}) as client:
            while time.monotonic() < deadline:
                action = rng.random()
                if action < 0.4 or not mine:
                    response = client.post(f"/api/v1/projects/{pid}/tasks", json={
                        "title": f"w{n}", "column_id": rng.choice(columns),
                        "position": rng.randint(0, 5)})
                    if response.status_code == 201:
                        mine.append(response.json()["id"])
                elif action < 0.8:
                    response = client.post(f"/api/v1/tasks/{rng.choice(mine)}/move", json={
                        "column_id": rng.choice(columns), "position": rng.randint(0, 30)})
                else:
                    current = client.get(f"/api/v1/tasks/{shared['id']}").json()["version"]
                    response = client.patch(f"/api/v1/tasks/{shared['id']}",
                                            json={"description": f"by {n}"},
                                            headers={"If-Match": f'"{current}"'})
                    if response.status_code == 200:
                        with lock:
                            shared_updates += 1
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code >= 500 or "locked" in response.text:
                        errors.append(response.text)
        with lock:
            created.extend(mine)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses[201] == len(created) > writers
    # Every acknowledged create is there, and nothing else.
    rows = server.sql("SELECT id, column_id, rank FROM tasks WHERE project_id = ? "
                      "AND id <> ?", (pid, shared["id"]))
    assert sorted(row["id"] for row in rows) == sorted(created)
    # Every acknowledged update of the shared task was applied exactly once.
    version = server.sql("SELECT version FROM tasks WHERE id = ?", (shared["id"],))[0][0]
    assert version == 1 + shared_updates
    # Positions: each column's tasks are 0..n-1 with no duplicates.
    for column in columns:
        items = owner.client.get(f"/api/v1/projects/{pid}/tasks",
                                 params={"column": column, "limit": 200}).json()["items"]
        assert [t["position"] for t in items] == list(range(len(items)))
    ranks = [(row["column_id"], row["rank"]) for row in rows]
    assert len(set(ranks)) == len(ranks)
    # Each change wrote exactly one event.
    events = server.sql("SELECT COUNT(*) FROM events WHERE project_id = ? AND kind IN "
                        "('task.created', 'task.moved', 'task.updated')", (pid,))[0][0]
    assert events == statuses[200] + statuses[201] + 1
