"""Users: accounts that sign in."""

from __future__ import annotations

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx

PUBLIC = "id, username, display_name, is_admin, created_at"


def public(row: Row) -> Row:
    """The fields of a user that other members may see."""
    return {"id": row["id"], "username": row["username"], "display_name": row["display_name"]}


async def insert(tx: Tx, username: str, display_name: str, password_hash: str,
                 is_admin: bool) -> Row:
    now = now_iso()
    row = await tx.fetchone(
        "INSERT INTO users (username, display_name, password_hash, is_admin, created_at, "
        f"password_changed_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {PUBLIC}",
        (username, display_name, password_hash, int(is_admin), now, now))
    assert row is not None
    return row


async def by_username(conn: Conn, username: str) -> Row | None:
    return await conn.fetchone(f"SELECT {PUBLIC} FROM users WHERE username = ?", (username,))


async def by_id(conn: Conn, user_id: int) -> Row | None:
    return await conn.fetchone(f"SELECT {PUBLIC} FROM users WHERE id = ?", (user_id,))


async def password_hash(conn: Conn, user_id: int) -> str | None:
    value = await conn.fetchval("SELECT password_hash FROM users WHERE id = ?", (user_id,))
    return None if value is None else str(value)


async def list_all(conn: Conn) -> list[Row]:
    return await conn.fetchall(f"SELECT {PUBLIC} FROM users ORDER BY username")


async def count(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COUNT(*) FROM users"))


async def set_password_hash(tx: Tx, user_id: int, password_hash: str) -> bool:
    changed = await tx.execute(
        "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
        (password_hash, now_iso(), user_id))
    return changed == 1
