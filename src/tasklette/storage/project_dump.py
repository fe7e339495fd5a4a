"""A whole project as rows, read for export and written in bulk for import.

Reads return every row of one project, with people named by username (ids mean
nothing on another instance). Writes take explicit ids reserved beforehand, so
thousands of tasks go in with a few `executemany` calls rather than one round
trip each; timestamps are written as given, so an export imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx

_CHUNK = 500  # rows per IN list or executemany call

# --- reading ---------------------------------------------------------------------------


async def project(conn: Conn, project_id: int) -> Row | None:
    return await conn.fetchone(
        "SELECT name, description, archived, created_at, updated_at FROM projects "
        "WHERE id = ?", (project_id,))


async def members(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        "SELECT u.username, u.display_name, m.role, m.created_at AS added_at "
        "FROM project_members m JOIN users u ON u.id = m.user_id WHERE m.project_id = ? "
        "ORDER BY u.username", (project_id,))


async def columns(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        "SELECT id, name, position, created_at FROM columns WHERE project_id = ? "
        "ORDER BY position", (project_id,))


async def labels(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        "SELECT id, name, color, created_at FROM labels WHERE project_id = ? "
        "ORDER BY LOWER(name), id", (project_id,))


async def tasks(conn: Conn, project_id: int) -> list[Row]:
    """Every task, top-level ones in board order first, then subtasks by parent and rank."""
    return await conn.fetchall(
        "SELECT t.id, t.column_id, t.parent_task_id, t.rank, t.title, t.description, "
        "t.priority, t.start_date, t.due_date, t.completed, t.completed_at, t.version, "
        "cu.username AS created_by, t.created_at, uu.username AS updated_by, t.updated_at "
        "FROM tasks t LEFT JOIN columns c ON c.id = t.column_id "
        "LEFT JOIN users cu ON cu.id = t.created_by LEFT JOIN users uu ON uu.id = t.updated_by "
        "WHERE t.project_id = ? "
        "ORDER BY t.parent_task_id IS NOT NULL, c.position, t.parent_task_id, t.rank",
        (project_id,))


async def task_count(conn: Conn, project_id: int) -> int:
    return int(await conn.fetchval("SELECT COUNT(*) FROM tasks WHERE project_id = ?",
                                   (project_id,)))


async def task_labels(conn: Conn, project_id: int) -> list[tuple[Any, ...]]:
    return await conn.fetchtuples(
        "SELECT tl.task_id, tl.label_id FROM task_labels tl JOIN tasks t ON t.id = tl.task_id "
        "JOIN labels l ON l.id = tl.label_id WHERE t.project_id = ? "
        "ORDER BY tl.task_id, LOWER(l.name), l.id", (project_id,))


async def task_assignees(conn: Conn, project_id: int) -> list[tuple[Any, ...]]:
    return await conn.fetchtuples(
        "SELECT ta.task_id, u.username FROM task_assignees ta JOIN tasks t ON t.id = ta.task_id "
        "JOIN users u ON u.id = ta.user_id WHERE t.project_id = ? ORDER BY ta.task_id, u.username",
        (project_id,))


async def comments(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        "SELECT c.id, c.task_id, u.username AS author, c.body, c.created_at, c.edited_at "
        "FROM comments c JOIN tasks t ON t.id = c.task_id "
        "LEFT JOIN users u ON u.id = c.author_id WHERE t.project_id = ? ORDER BY c.id",
        (project_id,))


async def views(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        "SELECT v.id, v.name, v.query, u.username AS created_by, v.created_at, v.updated_at "
        "FROM saved_views v LEFT JOIN users u ON u.id = v.created_by "
        "WHERE v.project_id = ? ORDER BY v.id", (project_id,))


async def events(conn: Conn, project_id: int) -> list[Row]:
    rows = await conn.fetchall(
        "SELECT e.id, e.kind, e.entity_type, e.entity_id, eu.username AS entity_username, "
        "e.task_id, u.username AS actor, e.payload, e.created_at FROM events e "
        "LEFT JOIN users u ON u.id = e.actor_id "
        "LEFT JOIN users eu ON e.entity_type = 'user' AND eu.id = e.entity_id "
        "WHERE e.project_id = ? ORDER BY e.id", (project_id,))
    for row in rows:
        row["payload"] = orjson.loads(row["payload"])
    return rows


async def user_ids(conn: Conn, usernames: Sequence[str]) -> dict[str, int]:
    """The ids of those of `usernames` that have an account."""
    found: dict[str, int] = {}
    names = sorted(set(usernames))
    for start in range(0, len(names), _CHUNK):
        chunk = names[start:start + _CHUNK]
        for user_id, username in await conn.fetchtuples(
                f"SELECT id, username FROM users WHERE username IN "
                f"({dialect.placeholders(len(chunk))})", chunk):
            found[username] = int(user_id)
    return found


async def first_owner(conn: Conn, project_id: int) -> Row | None:
    """The project's earliest owner: who acts for an administrator at the command line."""
    return await conn.fetchone(
        "SELECT u.id, u.username, u.display_name, u.is_admin FROM project_members m "
        "JOIN users u ON u.id = m.user_id WHERE m.project_id = ? AND m.role = 'owner' "
        "ORDER BY m.created_at, u.id LIMIT 1", (project_id,))


async def project_names(conn: Conn, user_id: int) -> set[str]:
    """Names of the projects the user belongs to (to keep an import's name distinct)."""
    rows = await conn.fetchtuples(
        "SELECT p.name FROM projects p JOIN project_members m ON m.project_id = p.id "
        "WHERE m.user_id = ?", (user_id,))
    return {str(name) for (name,) in rows}


# --- writing ---------------------------------------------------------------------------

_ID_TABLES = frozenset({"columns", "labels", "tasks", "comments", "events", "saved_views"})


async def reserve_ids(tx: Tx, table: str, count: int) -> list[int]:
    """`count` fresh ids for rows of `table` that this transaction will insert."""
    if table not in _ID_TABLES:
        raise ValueError(f"no ids are reserved for {table!r}")
    if count == 0:
        return []
    if tx.dialect == "postgresql":
        rows = await tx.fetchtuples(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
            "FROM generate_series(1, ?)", (count,))
        return [int(value) for (value,) in rows]
    # SQLite: one writer, so the ids after the largest ever handed out stay free until
    # this transaction uses them (AUTOINCREMENT then records the new largest).
    last = await tx.fetchval(
        f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), "
        f"COALESCE((SELECT MAX(id) FROM {table}), 0))")
    return list(range(int(last) + 1, int(last) + 1 + count))


async def insert_project(tx: Tx, values: Row) -> int:
    return int(await tx.fetchval(
        "INSERT INTO projects (name, description, archived, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (values["name"], values["description"], int(values["archived"]), values["created_by"],
         values["created_at"], values["updated_at"])))


async def insert_many(tx: Tx, table: str, names: Sequence[str],
                      rows: Sequence[Sequence[Any]]) -> None:
    """Insert `rows` (values in the order of `names`) in chunks."""
    if table not in {*_ID_TABLES, "project_members", "task_labels", "task_assignees"}:
        raise ValueError(f"no bulk insert into {table!r}")
    sql = (f"INSERT INTO {table} ({', '.join(names)}) "
           f"VALUES ({dialect.placeholders(len(names))})")
    for start in range(0, len(rows), _CHUNK):
        await tx.executemany(sql, rows[start:start + _CHUNK])


async def insert_events(tx: Tx, project_id: int, rows: Sequence[Row]) -> None:
    """Write past events (an imported history): recorded as they were, never published."""
    await insert_many(tx, "events", (
        "project_id", "actor_id", "kind", "entity_type", "entity_id", "task_id", "payload",
        "created_at"), [
        (project_id, row["actor_id"], row["kind"], row["entity_type"], row["entity_id"],
         row["task_id"], orjson.dumps(row["payload"]).decode(), row["created_at"])
        for row in rows])


async def refresh_statistics(tx: Tx) -> None:
    """After a bulk write, let PostgreSQL's planner know the tables' new sizes.

    Until autovacuum gets to it, a planner that thinks a project has a few hundred tasks
    chooses plans that are right for that (measured: a search over 50,000 fresh tasks
    took 64 ms instead of 7). SQLite keeps no such statistics here: nothing to do.
    """
    if tx.dialect == "postgresql":
        await tx.execute("ANALYZE tasks, task_search, comments, task_labels, task_assignees, "
                         "project_members")
