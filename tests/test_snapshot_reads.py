"""A read sees one moment of the database, whatever writers do between its queries."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import Counter
from typing import Any

import httpx

from tasklette.services import labels, sessions
from tasklette.web.auth import COOKIE
from tests.conftest import Server, User

WRITERS = 8
READERS = 8
SECONDS = 20.0


def test_reads_under_label_column_and_card_churn_never_fail(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    """Writers create, attach and delete labels, add and remove columns and move cards
    into them, while readers fetch tasks, the task list, the board and the task page:
    every read answers 200, no write answers 5xx."""
    pid = project["id"]
    base = [c["id"] for c in owner.client.get(f"/api/v1/projects/{pid}/columns").json()]
    task_ids = []
    for n in range(6):
        created = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                                    json={"title": f"card {n}", "column_id": base[n % 3]})
        assert created.status_code == 201, created.text
        task_ids.append(created.json()["id"])
    lock = threading.Lock()
    reads: Counter[str] = Counter()
    writes: Counter[int] = Counter()
    failures: list[str] = []
    deadline = time.monotonic() + SECONDS

    def api_client(base_url: str) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=30,
                            headers={"Authorization": f"Bearer {owner.token}"})

    def record_write(response: httpx.Response) -> None:
        with lock:
            writes[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{response.request.method} {response.request.url.path}: "
                                f"{response.status_code} {response.text[:300]}")

    def writer(n: int) -> None:
        rng = random.Random(n)
        with api_client(server.base_url) as client:
            while time.monotonic() < deadline:
                task_id = rng.choice(task_ids)
                if n % 2 == 0:
                    # A label is born, put on a card, and deleted again.
                    made = client.post(f"/api/v1/projects/{pid}/labels",
                                       json={"name": f"l{n}-{rng.random()}", "color": "#aa3355"})
                    record_write(made)
                    if made.status_code != 201:
                        continue
                    label = made.json()["id"]
                    for target in (task_id, rng.choice(task_ids)):
                        record_write(client.put(f"/api/v1/tasks/{target}/labels/{label}"))
                    record_write(client.delete(f"/api/v1/labels/{label}"))
                else:
                    # A column is born, a card moves into it, and the column goes again
                    # (its cards moved back to a base column).
                    made = client.post(f"/api/v1/projects/{pid}/columns",
                                       json={"name": f"c{n}-{rng.random()}"})
                    record_write(made)
                    if made.status_code != 201:
                        continue
                    column = made.json()["id"]
                    record_write(client.post(f"/api/v1/tasks/{task_id}/move",
                                             json={"column_id": column, "position": 0}))
                    record_write(client.delete(f"/api/v1/columns/{column}",
                                               params={"move_to": rng.choice(base)}))

    def reader(n: int) -> None:
        rng = random.Random(100 + n)
        # A session of its own, as signing in makes (without the form: its throttle
        # counts attempts per address, and other tests sign in from here too).
        cookie = server.call(sessions.start(server.db, owner.actor))
        with api_client(server.base_url) as api, \
                httpx.Client(base_url=server.base_url, timeout=30,
                             cookies={COOKIE: cookie}) as web:
            while time.monotonic() < deadline:
                task_id = rng.choice(task_ids)
                path = rng.choice([
                    f"/api/v1/tasks/{task_id}", f"/api/v1/projects/{pid}/tasks",
                    f"/api/v1/tasks/{task_id}", f"/api/v1/projects/{pid}/tasks",
                    f"/projects/{pid}", f"/projects/{pid}", f"/tasks/{task_id}",
                    f"/projects/{pid}/list"])
                response = (web if path.startswith(("/projects", "/tasks")) else api).get(path)
                with lock:
                    reads[path.split("/")[1] + ":" + str(response.status_code)] += 1
                    if response.status_code != 200:
                        failures.append(f"GET {path}: {response.status_code} "
                                        f"{response.text[:300]}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)] + \
        [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == [], f"{len(failures)} failures of {reads}, e.g. {failures[:5]}"
    assert sum(reads.values()) > READERS * 10, reads
    assert writes[201] > WRITERS, writes
    # The churn left the project as it was: its base columns and its cards.
    assert [c["id"] for c in owner.client.get(f"/api/v1/projects/{pid}/columns").json()] == base
    assert server.sql("SELECT COUNT(*) FROM labels WHERE project_id = ?", (pid,))[0][0] == 0


def test_a_write_that_commits_during_a_read_is_not_seen_by_it(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    """Deterministic: another request's commit between two queries of one read."""
    pid = project["id"]
    count = "SELECT COUNT(*) FROM labels WHERE project_id = ?"

    async def scenario() -> tuple[int, int, int]:
        db = server.db
        async with db.reading() as conn:
            before = await conn.fetchval(count, (pid,))
            await labels.create(db, owner.actor, pid, "meanwhile", "#112233")
            during = await conn.fetchval(count, (pid,))
        async with db.reading() as conn:
            after = await conn.fetchval(count, (pid,))
        return before, during, after

    before, during, after = server.call(scenario())
    assert (during, after) == (before, before + 1)


def test_nested_reads_share_one_snapshot_and_a_failed_read_lets_go(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    """Service reads inside one reading() see its snapshot; a read that raises or is
    cancelled ends its transaction, so later reads see new commits."""
    pid = project["id"]

    async def scenario() -> list[int]:
        db = server.db
        seen = []
        async with db.reading():
            seen.append(len(await labels.list_for_project(db, owner.actor, pid)))
            await labels.create(db, owner.actor, pid, "one", "#112233")
            seen.append(len(await labels.list_for_project(db, owner.actor, pid)))
        with contextlib.suppress(RuntimeError):
            async with db.reading() as conn:
                await conn.fetchval("SELECT COUNT(*) FROM labels")
                raise RuntimeError("a bug in the middle of a read")

        async def stuck() -> None:
            async with db.reading() as conn:
                await conn.fetchval("SELECT COUNT(*) FROM labels")
                await asyncio.sleep(60)

        task = asyncio.create_task(stuck())
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await labels.create(db, owner.actor, pid, "two", "#112233")
        for _ in range(20):  # every pooled connection sees the new label
            seen.append(len(await labels.list_for_project(db, owner.actor, pid)))
        return seen

    seen = server.call(scenario())
    assert seen[:2] == [seen[0], seen[0]]
    assert set(seen[2:]) == {seen[0] + 2}
