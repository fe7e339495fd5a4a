"""API tokens: stored as SHA-256 hashes, looked up by hash, revoked by timestamp."""

from __future__ import annotations

from collections.abc import Iterable

from tasklette.clock import now_iso
from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx

FIELDS = "id, user_id, name, token_prefix, created_at, revoked_at"


async def insert(tx: Tx, user_id: int, name: str, token_hash: str, prefix: str) -> Row:
    row = await tx.fetchone(
        "INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, created_at) "
        f"VALUES (?, ?, ?, ?, ?) RETURNING {FIELDS}",
        (user_id, name, token_hash, prefix, now_iso()))
    assert row is not None
    return row


async def user_for_hash(conn: Conn, token_hash: str) -> Row | None:
    """The user owning an unrevoked token with this hash."""
    return await conn.fetchone(
        "SELECT u.id, u.username, u.display_name, u.is_admin, t.id AS token_id "
        "FROM api_tokens t "
        "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        (token_hash,))


async def list_for_user(conn: Conn, user_id: int) -> list[Row]:
    return await conn.fetchall(
        f"SELECT {FIELDS} FROM api_tokens WHERE user_id = ? ORDER BY id", (user_id,))


async def revoke(tx: Tx, user_id: int, token_id: int) -> Row | None:
    """Revoke one of the user's tokens; None when the user has no such token."""
    return await tx.fetchone(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) "
        f"WHERE id = ? AND user_id = ? RETURNING {FIELDS}",
        (now_iso(), token_id, user_id))


async def valid_ids(conn: Conn, token_ids: Iterable[int]) -> set[int]:
    """Those of `token_ids` that are not revoked and whose user still exists."""
    found: set[int] = set()
    for batch in dialect.chunks(set(token_ids)):
        found.update(row[0] for row in await conn.fetchtuples(
            "SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id "
            f"WHERE t.id IN ({dialect.placeholders(len(batch))}) AND t.revoked_at IS NULL",
            batch))
    return found


async def revoke_all(tx: Tx, user_id: int) -> int:
    """Revoke every token of the user still active; how many were."""
    return await tx.execute("UPDATE api_tokens SET revoked_at = ? "
                            "WHERE user_id = ? AND revoked_at IS NULL", (now_iso(), user_id))
