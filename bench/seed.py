"""Seeding for the API benchmark (bench/api_bench.py), on SQLite or PostgreSQL.

The data goes in through the service layer, in-process, as the app writes it: 5
users, N projects x M tasks with labels, assignees and comments, one API token.
`seed()` works on either engine (storage.open.connect); `create_pg_database()` and
`drop_pg_database()` make and remove the throw-away PostgreSQL database a run uses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # also works when run without `uv run`

PASSWORD = "bench-password-123"
OWNER = "bench"
MEMBERS = ("alice", "bob", "carol", "dave")  # editors of every project, besides the owner
LABELS = (("bug", "#e5484d"), ("feature", "#30a46c"), ("design", "#8e4ec6"),
          ("docs", "#0090ff"), ("infra", "#ffb224"), ("customer", "#12a594"))
WORDS = ("fix", "add", "remove", "refactor", "document", "test", "deploy", "review",
         "login", "export", "search", "billing", "sidebar", "upload", "report", "cache",
         "timeout", "dashboard", "invoice", "mobile", "keyboard", "shortcut", "filter",
         "pagination", "the", "a", "for", "when", "with", "after", "page", "error", "slow")
COUNTED_TABLES = ("users", "projects", "project_members", "columns", "labels", "tasks",
                  "task_labels", "task_assignees", "comments", "events")


@dataclass
class Seeded:
    token: str
    projects: list[dict[str, Any]]  # {"id": 1, "columns": [1, 2, 3]}
    task_ids: list[int]
    task_project: list[int]  # index into projects, per task
    counts: dict[str, int]
    seconds: float


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


async def _gather_batches(make: list[Callable[[], Any]], batch: int) -> list[Any]:
    """Run coroutine factories concurrently, `batch` at a time (so group commit groups)."""
    results: list[Any] = []
    for start in range(0, len(make), batch):
        results += await asyncio.gather(*(m() for m in make[start:start + batch]))
    return results


async def create_team(db: Any) -> list[Any]:
    """The bench owner and the members, as actors (owner first)."""
    from tasklette.services import users
    from tasklette.services.permissions import Actor

    rows = await asyncio.gather(
        users.create(db, OWNER, PASSWORD, "Bench Owner"),
        *(users.create(db, name, PASSWORD, name.title()) for name in MEMBERS))
    return [Actor(r["id"], r["username"], r["display_name"]) for r in rows]


async def seed(data_dir: Path, n_projects: int, n_tasks: int, rng: random.Random,
               batch: int, database_url: str = "") -> Seeded:
    """Seed a fresh database: SQLite in `data_dir`, or the PostgreSQL `database_url`."""
    from tasklette.services import comments, labels, members, projects, tasks, tokens
    from tasklette.services.columns import list_for_project as list_columns
    from tasklette.services.tasks import TaskFields
    from tasklette.settings import load_settings
    from tasklette.storage.open import connect, uses_postgres

    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(environ={}, data_dir=data_dir, database_url=database_url or None)
    db = await connect(settings)
    try:
        actors = await create_team(db)
        owner = actors[0]
        _, secret = await tokens.create(db, owner, "api-bench")

        made = await asyncio.gather(*(
            projects.create(db, owner, f"Project {i + 1:02d}", _words(rng, 4, 12))
            for i in range(n_projects)))
        project_ids = [int(p["id"]) for p in made]
        await asyncio.gather(*(members.add(db, owner, pid, name, "editor")
                               for pid in project_ids for name in MEMBERS))
        label_rows = await asyncio.gather(*(labels.create(db, owner, pid, name, color)
                                            for pid in project_ids for name, color in LABELS))
        label_ids: dict[int, list[int]] = {pid: [] for pid in project_ids}
        for label in label_rows:
            label_ids[label["project_id"]].append(int(label["id"]))
        column_ids: dict[int, list[int]] = {}
        for pid in project_ids:
            cols = await list_columns(db, owner, pid)
            column_ids[pid] = [int(c["id"]) for c in sorted(cols, key=lambda c: c["position"])]

        usernames = [a.username for a in actors]
        today = dt.date.today()

        def task_factory(index: int, pid: int) -> Callable[[], Any]:
            columns = column_ids[pid]
            column = rng.choice(columns)
            due = None
            if rng.random() < 0.35:
                due = (today + dt.timedelta(days=rng.randint(-30, 90))).isoformat()
            fields = TaskFields(
                title=f"{_words(rng, 3, 8).capitalize()} #{index}",
                description=_words(rng, 0, 40),
                priority=rng.choice(("none", "none", "low", "medium", "high", "urgent")),
                due_date=due,
                completed=column == columns[-1],
                label_ids=rng.sample(label_ids[pid], rng.randint(0, 3)),
                assignees=rng.sample(usernames, rng.randint(0, 2)),
                column_id=column)
            actor = rng.choice(actors)
            return lambda: tasks.create(db, actor, pid, fields)

        factories = [task_factory(i, pid) for pid in project_ids for i in range(n_tasks)]
        created = await _gather_batches(factories, batch)
        task_ids = [int(t["id"]) for t in created]
        project_index = {pid: i + 1 for i, pid in enumerate(project_ids)}  # Lua: 1-based
        task_project = [project_index[int(t["project_id"])] for t in created]

        comment_factories = []
        for task_id in task_ids:
            for _ in range(rng.randint(0, 3)):
                author, body = rng.choice(actors), _words(rng, 3, 30).capitalize() + "."
                comment_factories.append(
                    lambda a=author, t=task_id, b=body: comments.create(db, a, t, b))
        await _gather_batches(comment_factories, batch)
        if uses_postgres(settings):
            # Planner statistics, as a database in use has them (autovacuum would gather
            # them a minute or more later; without them PostgreSQL picks sequential scans
            # for the `task_id IN (...)` lookups of every task list).
            async with db.reading() as conn:
                await conn.execute("ANALYZE")
        counts = await _count_rows(db)
        if uses_postgres(settings):
            async with db.reading() as conn:
                counts["db_bytes"] = int(await conn.fetchval(
                    "SELECT pg_database_size(current_database())"))
    finally:
        await db.close()
    if not uses_postgres(settings):
        counts["db_bytes"] = settings.database_path.stat().st_size
    return Seeded(
        token=secret,
        projects=[{"id": pid, "columns": column_ids[pid]} for pid in project_ids],
        task_ids=task_ids, task_project=task_project, counts=counts,
        seconds=time.perf_counter() - started)


async def _count_rows(db: Any) -> dict[str, int]:
    async with db.reading() as conn:
        counts = {table: int(await conn.fetchval(f"SELECT COUNT(*) FROM {table}"))
                  for table in COUNTED_TABLES}
        # The ranks must be what the app writes: sparse, 1024 apart within a column.
        counts["tasks_with_unexpected_rank"] = int(await conn.fetchval(
            "SELECT COUNT(*) FROM (SELECT column_id, rank, ROW_NUMBER() OVER "
            "(PARTITION BY column_id ORDER BY rank) AS n FROM tasks "
            "WHERE parent_task_id IS NULL) AS ranked WHERE rank <> n * 1024"))
    return counts


def write_lua_data(seeded: Seeded, path: Path, accept_encoding: str = "") -> None:
    def ints(values: list[int]) -> str:
        return ",".join(map(str, values))

    projects = ",\n".join(f"  {{id={p['id']}, columns={{{ints(p['columns'])}}}}}"
                          for p in seeded.projects)
    path.write_text(
        "-- Written by bench/api_bench.py: what the wrk scripts pick from.\n"
        f"return {{\ntoken={json.dumps(seeded.token)},\n"
        f"accept_encoding={json.dumps(accept_encoding)},\nprojects={{\n{projects}\n}},\n"
        f"task_ids={{{ints(seeded.task_ids)}}},\n"
        f"task_project={{{ints(seeded.task_project)}}},\n}}\n")


# --- a throw-away PostgreSQL database --------------------------------------------------


def pg_database_url(server_url: str, name: str) -> str:
    """`server_url` (postgresql://user@host:port[/db]) pointing at database `name`."""
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def create_pg_database(server_url: str, name: str) -> str:
    """Create the empty database `name` (dropped first if left over); return its URL."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())
    return pg_database_url(server_url, name)


def drop_pg_database(server_url: str, name: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())


def pg_backend_pids(server_url: str, name: str) -> list[int]:
    """The pids of the PostgreSQL backends connected to database `name` (same machine)."""
    import asyncpg

    async def run() -> list[int]:
        conn = await asyncpg.connect(server_url)
        try:
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1",
                                    name)
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]

    return asyncio.run(run())
