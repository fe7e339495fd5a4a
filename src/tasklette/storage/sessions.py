"""Browser sessions (by hash of their secret) and sign-in failure counters."""

from __future__ import annotations

from collections.abc import Iterable

from tasklette.clock import now_iso
from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx


async def insert(tx: Tx, id_hash: str, user_id: int, csrf_token: str) -> None:
    now = now_iso()
    await tx.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) "
        "VALUES (?, ?, ?, ?, ?)", (id_hash, user_id, csrf_token, now, now))


async def get(conn: Conn, id_hash: str) -> Row | None:
    """The session with its user."""
    return await conn.fetchone(
        "SELECT s.id_hash, s.csrf_token, s.last_seen_at, u.id AS user_id, u.username, "
        "u.display_name, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.id_hash = ?", (id_hash,))


async def existing(conn: Conn, id_hashes: Iterable[str]) -> set[str]:
    """Those of `id_hashes` whose session still exists (not signed out, not purged)."""
    found: set[str] = set()
    for batch in dialect.chunks(set(id_hashes)):
        found.update(row[0] for row in await conn.fetchtuples(
            f"SELECT id_hash FROM sessions WHERE id_hash IN ({dialect.placeholders(len(batch))})",
            batch))
    return found


async def touch(tx: Tx, id_hash: str) -> None:
    await tx.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?",
                     (now_iso(), id_hash))


async def delete(tx: Tx, id_hash: str) -> None:
    await tx.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))


async def delete_for_user(tx: Tx, user_id: int) -> None:
    await tx.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))


async def delete_idle(tx: Tx, seen_before: str) -> int:
    return await tx.execute("DELETE FROM sessions WHERE last_seen_at < ?", (seen_before,))


async def failures(conn: Conn, key: str) -> Row | None:
    return await conn.fetchone(
        "SELECT failures, window_started_at FROM sign_in_failures WHERE key = ?", (key,))


async def record_failure(tx: Tx, key: str, window_start_after: str) -> None:
    """Count one failure for `key`; a window older than `window_start_after` starts anew."""
    now = now_iso()
    row = await failures(tx, key)
    if row is None:
        await tx.execute("INSERT INTO sign_in_failures (key, failures, window_started_at) "
                         "VALUES (?, 1, ?)", (key, now))
    elif row["window_started_at"] < window_start_after:
        await tx.execute("UPDATE sign_in_failures SET failures = 1, window_started_at = ? "
                         "WHERE key = ?", (now, key))
    else:
        await tx.execute("UPDATE sign_in_failures SET failures = failures + 1 WHERE key = ?",
                         (key,))


async def clear_failures(tx: Tx, key: str) -> None:
    await tx.execute("DELETE FROM sign_in_failures WHERE key = ?", (key,))
