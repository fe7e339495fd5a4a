"""A whole instance as rows: read table by table for an export, written back for an import.

The rows are copied as they are, ids included, so that an instance moves from
SQLite to PostgreSQL (or back) unchanged. Derived tables are not copied: the
search index is rebuilt by its triggers as tasks and comments go in, and the
schema version and sign-in throttling belong to the database, not the data.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx

# Every copied table, each after the tables its rows refer to, with the columns that
# order its rows (a unique key, so that reading in batches misses nothing).
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("users", ("id",)),
    ("api_tokens", ("id",)),
    ("sessions", ("id_hash",)),
    ("calendar_feeds", ("user_id",)),
    ("projects", ("id",)),
    ("project_members", ("project_id", "user_id")),
    ("columns", ("id",)),
    ("labels", ("id",)),
    ("tasks", ("id",)),
    ("task_labels", ("task_id", "label_id")),
    ("task_assignees", ("task_id", "user_id")),
    ("comments", ("id",)),
    ("attachments", ("id",)),
    ("saved_views", ("id",)),
    ("events", ("id",)),
    ("task_watchers", ("task_id", "user_id")),
    ("project_watchers", ("project_id", "user_id")),
    ("notifications", ("id",)),
)
# Tables that came after the first exports: an export made before them has none.
ADDED_LATER = frozenset({"task_watchers", "project_watchers", "notifications"})
# Jobs are not copied either (exports made before the queue existed stay importable):
# work still queued is not carried over, so let the old instance's jobs run out first
# (`tasklette jobs list --state queued`) before moving it.
NOT_COPIED = frozenset({"schema_version", "sign_in_failures", "task_search", "blob_garbage",
                        "jobs"})
BATCH = 1000
_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,62}")


async def schema_tables(conn: Conn) -> set[str]:
    """The tables of the database's schema (SQLite's internal ones and FTS shadows aside)."""
    if conn.dialect == "postgresql":
        rows = await conn.fetchtuples(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    else:
        rows = await conn.fetchtuples(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {name for (name,) in rows if not name.startswith("task_search_")}  # FTS5 shadows


async def count(conn: Conn, table: str) -> int:
    return int(await conn.fetchval(f"SELECT COUNT(*) FROM {_known(table)}"))


async def read(conn: Conn, table: str) -> AsyncIterator[list[Row]]:
    """The table's rows in key order, a batch at a time."""
    key = dict(TABLES)[_known(table)]
    order = ", ".join(key)
    after: tuple[Any, ...] | None = None
    while True:
        if after is None:
            where, params = "", ()
        else:  # the rows after the last one read, by the table's key
            where = f"WHERE ({order}) > ({dialect.placeholders(len(key))}) "
            params = after
        rows = await conn.fetchall(
            f"SELECT * FROM {table} {where}ORDER BY {order} LIMIT ?", (*params, BATCH))
        if rows:
            yield rows
            after = tuple(rows[-1][column] for column in key)
        if len(rows) < BATCH:
            return


async def is_empty(conn: Conn) -> bool:
    """True for a database with no users and no projects: one an import may fill."""
    return not await conn.fetchval(
        "SELECT 1 FROM users UNION ALL SELECT 1 FROM projects LIMIT 1")


async def insert(tx: Tx, table: str, rows: Sequence[Row]) -> None:
    """Write rows with their ids as given."""
    if not rows:
        return
    names = list(rows[0])
    bad = [name for name in names if not _COLUMN.fullmatch(name)]
    if bad:
        raise ValueError(f"not a column name: {bad[0][:40]!r}")
    if table == "tasks":
        rows = parents_first(rows)
    await tx.executemany(
        f"INSERT INTO {_known(table)} ({', '.join(names)}) "
        f"VALUES ({dialect.placeholders(len(names))})",
        [tuple(row[name] for name in names) for row in rows])


def parents_first(rows: Sequence[Row]) -> list[Row]:
    """Tasks ordered so that each one's parent is written before it."""
    by_id = {row["id"]: row for row in rows}
    placed: set[int] = set()
    ordered: list[Row] = []

    def place(row: Row) -> None:
        chain = []
        while row["id"] not in placed:
            chain.append(row)
            parent = row["parent_task_id"]
            if parent is None or parent not in by_id:
                break
            row = by_id[parent]
        for link in reversed(chain):
            if link["id"] not in placed:
                placed.add(link["id"])
                ordered.append(link)

    for row in rows:
        place(row)
    return ordered


async def continue_ids(tx: Tx) -> None:
    """After rows went in with their ids, new rows must get higher ones (PostgreSQL's
    identity sequences do not notice; SQLite's AUTOINCREMENT does)."""
    if tx.dialect != "postgresql":
        return
    for table, key in TABLES:
        if key == ("id",):
            await tx.fetchval(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")


def _known(table: str) -> str:
    """Table names go into SQL text: only the ones listed here ever do."""
    if table not in dict(TABLES):
        raise ValueError(f"not a table an instance copy knows: {table!r}")
    return table
