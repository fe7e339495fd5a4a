"""Calendar feeds: one secret feed address per user (only its hash is stored), and the
dated tasks a feed lists."""

from __future__ import annotations

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx


async def get(conn: Conn, user_id: int) -> Row | None:
    return await conn.fetchone(
        "SELECT user_id, created_at FROM calendar_feeds WHERE user_id = ?", (user_id,))


async def replace(tx: Tx, user_id: int, token_hash: str) -> Row:
    """Give the user a feed with this token hash; any earlier address stops working."""
    await tx.execute("DELETE FROM calendar_feeds WHERE user_id = ?", (user_id,))
    row = await tx.fetchone(
        "INSERT INTO calendar_feeds (user_id, token_hash, created_at) VALUES (?, ?, ?) "
        "RETURNING user_id, created_at", (user_id, token_hash, now_iso()))
    assert row is not None
    return row


async def delete(tx: Tx, user_id: int) -> bool:
    return await tx.execute("DELETE FROM calendar_feeds WHERE user_id = ?", (user_id,)) == 1


async def owner_of(conn: Conn, token_hash: str) -> Row | None:
    """The user whose feed has this token hash."""
    return await conn.fetchone(
        "SELECT u.id, u.username, u.display_name, u.is_admin FROM calendar_feeds f "
        "JOIN users u ON u.id = f.user_id WHERE f.token_hash = ?", (token_hash,))


async def dated_tasks(conn: Conn, user_id: int, limit: int) -> list[Row]:
    """Tasks with a due date in the user's active projects, latest due first."""
    return await conn.fetchall(
        "SELECT t.id, t.project_id, p.name AS project_name, t.title, t.description, "
        "t.priority, t.start_date, t.due_date, t.completed, t.completed_at, t.created_at, "
        "t.updated_at, t.version, c.name AS column_name FROM tasks t "
        "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ? "
        "JOIN projects p ON p.id = t.project_id LEFT JOIN columns c ON c.id = t.column_id "
        "WHERE t.due_date IS NOT NULL AND p.archived = 0 ORDER BY t.due_date DESC, t.id LIMIT ?",
        (user_id, limit))
