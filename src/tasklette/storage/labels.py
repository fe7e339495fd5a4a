"""Labels: coloured tags scoped to a project, and their links to tasks."""

from __future__ import annotations

from typing import Any

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx

FIELDS = "l.id, l.project_id, l.name, l.color, l.created_at"


async def list_for_project(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        f"SELECT {FIELDS}, (SELECT COUNT(*) FROM task_labels tl WHERE tl.label_id = l.id) "
        "AS task_count FROM labels l WHERE l.project_id = ? ORDER BY LOWER(l.name), l.id",
        (project_id,))


async def get_for_member(conn: Conn, label_id: int, user_id: int) -> Row | None:
    return await conn.fetchone(
        f"SELECT {FIELDS}, m.role FROM labels l "
        "JOIN project_members m ON m.project_id = l.project_id AND m.user_id = ? "
        "WHERE l.id = ?", (user_id, label_id))


def _held(conn: Conn, linking: bool) -> str:
    """When linking (in a write) on PostgreSQL, keep the labels read from being deleted.

    KEY SHARE is the lock a foreign key takes: a label deleted between this read and
    the insert of its task link would otherwise fail that insert. Readers and other
    linkers are not blocked; a deletion waits for the commit (SQLite has one writer).
    """
    return " FOR KEY SHARE" if linking and conn.dialect == "postgresql" else ""


async def get(conn: Conn, label_id: int, *, linking: bool = False) -> Row | None:
    """The label; `linking`: about to be linked to a task in this transaction."""
    return await conn.fetchone(
        f"SELECT {FIELDS} FROM labels l WHERE l.id = ?{_held(conn, linking)}", (label_id,))


async def ids_in_project(conn: Conn, project_id: int, label_ids: list[int], *,
                         linking: bool = False) -> set[int]:
    """Which of `label_ids` are the project's; `linking`: as for `get`."""
    if not label_ids:
        return set()
    marks = ", ".join("?" * len(label_ids))
    rows = await conn.fetchall(
        f"SELECT id FROM labels WHERE project_id = ? AND id IN ({marks}){_held(conn, linking)}",
        (project_id, *label_ids))
    return {int(row["id"]) for row in rows}


async def insert(tx: Tx, project_id: int, name: str, color: str) -> Row:
    row = await tx.fetchone(
        "INSERT INTO labels (project_id, name, color, created_at) VALUES (?, ?, ?, ?) "
        "RETURNING id, project_id, name, color, created_at",
        (project_id, name, color, now_iso()))
    assert row is not None
    return row


async def update(tx: Tx, label_id: int, changes: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in changes)
    await tx.execute(f"UPDATE labels SET {assignments} WHERE id = ?",
                     (*changes.values(), label_id))


async def delete(tx: Tx, label_id: int) -> None:
    await tx.execute("DELETE FROM labels WHERE id = ?", (label_id,))


async def attach(tx: Tx, task_id: int, label_id: int) -> bool:
    """Link a label to a task; False when it already was."""
    if await tx.fetchval("SELECT 1 FROM task_labels WHERE task_id = ? AND label_id = ?",
                         (task_id, label_id)):
        return False
    await tx.execute("INSERT INTO task_labels (task_id, label_id) VALUES (?, ?)",
                     (task_id, label_id))
    return True


async def detach(tx: Tx, task_id: int, label_id: int) -> bool:
    """Unlink a label from a task; False when it was not linked."""
    return await tx.execute("DELETE FROM task_labels WHERE task_id = ? AND label_id = ?",
                            (task_id, label_id)) == 1
