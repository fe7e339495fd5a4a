"""Notification fan-out benchmark: one comment on a task that N members watch.

    uv run python bench/notify_bench.py [--watchers 1000] [--rounds 5] [--postgres URL]

On a fresh SQLite database (and on PostgreSQL, given a URL of a scratch database it
may fill), it makes a project of `--watchers` members who all watch one task, then,
`--rounds` times, comments on the task (which enqueues one `notifications.fan_out`
job in the comment's transaction) and times that job's handler alone: finding the
recipients and writing their notifications in one transaction. That is the worker
time the issue bounds (1,000 in well under a second). No runner is started, so
nothing else competes. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from tasklette.clock import now_iso
from tasklette.services import comments, notifications, projects, tasks
from tasklette.services.permissions import Actor
from tasklette.settings import Settings, load_settings
from tasklette.storage import users
from tasklette.storage.open import connect


async def _measure(settings: Settings, watchers: int, rounds: int) -> list[float]:
    db = await connect(settings)
    try:
        run = uuid.uuid4().hex[:8]  # names of this run (a scratch database may be reused)
        async with db.transaction() as tx:
            row = await users.insert(tx, f"owner-{run}", "Owner", "x", False)
        owner = Actor(int(row["id"]), row["username"])
        project = await projects.create(db, owner, f"Bench {run}", "")
        task = await tasks.create(db, owner, int(project["id"]), tasks.TaskFields(title="t"))
        now = now_iso()
        async with db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO users (username, display_name, password_hash, is_admin, "
                "created_at, password_changed_at) VALUES (?, 'W', 'x', 0, ?, ?)",
                [(f"w-{run}-{n}", now, now) for n in range(watchers)])
            ids = [int(i) for (i,) in await tx.fetchtuples(
                "SELECT id FROM users WHERE username LIKE ?", (f"w-{run}-%",))]
            await tx.executemany(
                "INSERT INTO project_members (project_id, user_id, role, created_at) "
                "VALUES (?, ?, 'viewer', ?)", [(project["id"], i, now) for i in ids])
            await tx.executemany(
                "INSERT INTO task_watchers (task_id, user_id, watching, created_at) "
                "VALUES (?, ?, 1, ?)", [(task["id"], i, now) for i in ids])
        times = []
        for n in range(rounds):
            comment = await comments.create(db, owner, int(task["id"]), f"round {n}")
            async with db.reading() as conn:
                payload = await conn.fetchval(
                    "SELECT j.payload FROM jobs j JOIN events e ON j.key = "
                    "'event:' || CAST(e.id AS TEXT) WHERE e.kind = 'comment.created' "
                    "AND e.entity_id = ?", (comment["id"],))
            started = time.perf_counter()
            await notifications._fan_out(db, orjson.loads(payload))
            times.append(time.perf_counter() - started)
            async with db.reading() as conn:
                written = await conn.fetchval(
                    "SELECT COUNT(*) FROM notifications WHERE task_id = ? AND event_id = "
                    "(SELECT MAX(id) FROM events WHERE kind = 'comment.created' "
                    "AND task_id = ?)", (task["id"], task["id"]))
            assert written == watchers, (written, watchers)
        return times
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="", help="a scratch PostgreSQL database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        engines = [("SQLite", load_settings(environ={}, data_dir=Path(work)))]
        if args.postgres:
            engines.append(("PostgreSQL", load_settings(environ={}, data_dir=Path(work),
                                                        database_url=args.postgres)))
        for name, settings in engines:
            times = asyncio.run(_measure(settings, args.watchers, args.rounds))
            print(f"{name:<10} fan-out to {args.watchers} watchers: median "
                  f"{statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms, "
                  f"worst {max(times) * 1000:.0f} ms ({args.rounds} rounds)")


if __name__ == "__main__":
    main()
