"""Comments on tasks."""

from __future__ import annotations

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx

FIELDS = ("c.id, c.task_id, c.author_id, u.username AS author_username, "
          "u.display_name AS author_display_name, c.body, c.created_at, c.edited_at")


async def list_for_task(conn: Conn, task_id: int) -> list[Row]:
    return await conn.fetchall(
        f"SELECT {FIELDS} FROM comments c LEFT JOIN users u ON u.id = c.author_id "
        "WHERE c.task_id = ? ORDER BY c.id", (task_id,))


async def get(conn: Conn, comment_id: int) -> Row | None:
    return await conn.fetchone(
        f"SELECT {FIELDS} FROM comments c LEFT JOIN users u ON u.id = c.author_id "
        "WHERE c.id = ?", (comment_id,))


async def get_for_member(conn: Conn, comment_id: int, user_id: int) -> Row | None:
    """The comment with its project and the member's role; None for non-members."""
    return await conn.fetchone(
        f"SELECT {FIELDS}, t.project_id, m.role FROM comments c "
        "JOIN tasks t ON t.id = c.task_id "
        "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ? "
        "LEFT JOIN users u ON u.id = c.author_id WHERE c.id = ?", (user_id, comment_id))


async def insert(tx: Tx, task_id: int, author_id: int, body: str) -> int:
    return int(await tx.fetchval(
        "INSERT INTO comments (task_id, author_id, body, created_at) VALUES (?, ?, ?, ?) "
        "RETURNING id", (task_id, author_id, body, now_iso())))


async def edit(tx: Tx, comment_id: int, body: str) -> None:
    await tx.execute("UPDATE comments SET body = ?, edited_at = ? WHERE id = ?",
                     (body, now_iso(), comment_id))


async def delete(tx: Tx, comment_id: int) -> None:
    await tx.execute("DELETE FROM comments WHERE id = ?", (comment_id,))
