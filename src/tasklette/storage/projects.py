"""Projects: every read is scoped by the reader's membership."""

from __future__ import annotations

from typing import Any

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx

FIELDS = "p.id, p.name, p.description, p.archived, p.created_at, p.updated_at"


def _shape(row: Row) -> Row:
    row["archived"] = bool(row["archived"])
    return row


async def insert(tx: Tx, name: str, description: str, created_by: int) -> Row:
    now = now_iso()
    row = await tx.fetchone(
        "INSERT INTO projects (name, description, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id, name, description, archived, created_at, updated_at",
        (name, description, created_by, now, now))
    assert row is not None
    return _shape(row)


async def role_of(conn: Conn, project_id: int, user_id: int) -> str | None:
    """The user's role in the project, or None when they are not a member."""
    role = await conn.fetchval(
        "SELECT role FROM project_members WHERE project_id = ? AND user_id = ?",
        (project_id, user_id))
    return None if role is None else str(role)


_COUNTS = (
    "(SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id AND t.parent_task_id IS NULL) "
    "AS task_count, "
    "(SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id AND t.parent_task_id IS NULL "
    "AND t.completed = 0) AS open_task_count"
)


async def get_for_member(conn: Conn, project_id: int, user_id: int) -> Row | None:
    """The project with the member's role and task counts; None for non-members."""
    row = await conn.fetchone(
        f"SELECT {FIELDS}, m.role, {_COUNTS} FROM projects p "
        "JOIN project_members m ON m.project_id = p.id AND m.user_id = ? WHERE p.id = ?",
        (user_id, project_id))
    return None if row is None else _shape(row)


async def list_for_member(conn: Conn, user_id: int) -> list[Row]:
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, m.role, {_COUNTS} FROM projects p "
        "JOIN project_members m ON m.project_id = p.id AND m.user_id = ? "
        "ORDER BY p.archived, LOWER(p.name), p.id",
        (user_id,))
    return [_shape(row) for row in rows]


async def update(tx: Tx, project_id: int, changes: dict[str, Any]) -> None:
    if "archived" in changes:
        changes["archived"] = int(changes["archived"])
    assignments = ", ".join(f"{name} = ?" for name in changes)
    await tx.execute(
        f"UPDATE projects SET {assignments}, updated_at = ? WHERE id = ?",
        (*changes.values(), now_iso(), project_id))


async def delete(tx: Tx, project_id: int) -> None:
    # Tasks reference columns without a cascade, so they go first.
    await tx.execute("DELETE FROM tasks WHERE project_id = ?", (project_id,))
    await tx.execute("DELETE FROM projects WHERE id = ?", (project_id,))


async def lock(tx: Tx, project_id: int) -> None:
    """Serialise writers that reorder the project's columns or change its members.

    SQLite already has a single writer; PostgreSQL takes a row lock. NO KEY UPDATE, as
    for columns and tasks: it excludes the other lockers but not the key-share locks that
    inserting a row referencing the project takes, which FOR UPDATE would make wait (a
    task creation holding its column, waiting on the project a column deletion holds,
    while the deletion waits on the column: a deadlock).
    """
    if tx.dialect == "postgresql":
        await tx.fetchval("SELECT id FROM projects WHERE id = ? FOR NO KEY UPDATE",
                          (project_id,))
