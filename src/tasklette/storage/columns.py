"""Columns: the ordered lanes of a project's board (positions 0..n-1)."""

from __future__ import annotations

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx

FIELDS = "c.id, c.project_id, c.name, c.position, c.created_at"
_TASK_COUNT = "(SELECT COUNT(*) FROM tasks t WHERE t.column_id = c.id) AS task_count"


async def list_for_project(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        f"SELECT {FIELDS}, {_TASK_COUNT} FROM columns c WHERE c.project_id = ? "
        "ORDER BY c.position", (project_id,))


async def get_for_member(conn: Conn, column_id: int, user_id: int) -> Row | None:
    """The column with the member's role in its project; None for non-members."""
    return await conn.fetchone(
        f"SELECT {FIELDS}, {_TASK_COUNT}, m.role FROM columns c "
        "JOIN project_members m ON m.project_id = c.project_id AND m.user_id = ? "
        "WHERE c.id = ?", (user_id, column_id))


async def get(conn: Conn, column_id: int) -> Row | None:
    return await conn.fetchone(
        f"SELECT {FIELDS}, {_TASK_COUNT} FROM columns c WHERE c.id = ?", (column_id,))


async def in_project(conn: Conn, project_id: int, column_id: int) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM columns WHERE id = ? AND project_id = ?", (column_id, project_id))
    return found is not None


async def first_id(conn: Conn, project_id: int) -> int | None:
    value = await conn.fetchval(
        "SELECT id FROM columns WHERE project_id = ? ORDER BY position LIMIT 1", (project_id,))
    return None if value is None else int(value)


async def count(conn: Conn, project_id: int) -> int:
    return int(await conn.fetchval(
        "SELECT COUNT(*) FROM columns WHERE project_id = ?", (project_id,)))


async def insert(tx: Tx, project_id: int, name: str, position: int) -> int:
    """Insert a column at `position` (0..count), shifting the ones after it."""
    await tx.execute(
        "UPDATE columns SET position = position + 1 WHERE project_id = ? AND position >= ?",
        (project_id, position))
    return int(await tx.fetchval(
        "INSERT INTO columns (project_id, name, position, created_at) VALUES (?, ?, ?, ?) "
        "RETURNING id", (project_id, name, position, now_iso())))


async def rename(tx: Tx, column_id: int, name: str) -> None:
    await tx.execute("UPDATE columns SET name = ? WHERE id = ?", (name, column_id))


async def move(tx: Tx, project_id: int, column_id: int, old: int, new: int) -> None:
    """Move a column from position `old` to `new`, shifting those in between."""
    if new < old:
        await tx.execute(
            "UPDATE columns SET position = position + 1 "
            "WHERE project_id = ? AND position >= ? AND position < ?", (project_id, new, old))
    elif new > old:
        await tx.execute(
            "UPDATE columns SET position = position - 1 "
            "WHERE project_id = ? AND position > ? AND position <= ?", (project_id, old, new))
    await tx.execute("UPDATE columns SET position = ? WHERE id = ?", (new, column_id))


async def delete(tx: Tx, project_id: int, column_id: int, position: int) -> None:
    await tx.execute("DELETE FROM columns WHERE id = ?", (column_id,))
    await tx.execute(
        "UPDATE columns SET position = position - 1 WHERE project_id = ? AND position > ?",
        (project_id, position))


async def lock(tx: Tx, *column_ids: int) -> None:
    """Serialise writers placing tasks in these columns (locked in id order).

    SQLite already has a single writer; PostgreSQL takes row locks. Lock order
    everywhere: project, then columns, then tasks — so writers never deadlock.
    """
    if tx.dialect == "postgresql":
        for column_id in sorted(set(column_ids)):
            await tx.fetchval("SELECT id FROM columns WHERE id = ? FOR NO KEY UPDATE",
                              (column_id,))
