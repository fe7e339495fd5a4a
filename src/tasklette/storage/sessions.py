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


async def standing(conn: Conn, id_hashes: Iterable[str], seen_since: str) -> set[str]:
    """Those of `id_hashes` whose session still exists and was seen since `seen_since`."""
    found: set[str] = set()
    for batch in dialect.chunks(set(id_hashes)):
        found.update(row[0] for row in await conn.fetchtuples(
            f"SELECT id_hash FROM sessions WHERE id_hash IN ({dialect.placeholders(len(batch))})"
            " AND last_seen_at >= ?", (*batch, seen_since)))
    return found


async def touch(tx: Tx, id_hash: str) -> None:
    await tx.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?",
                     (now_iso(), id_hash))


async def delete(tx: Tx, id_hash: str) -> None:
    await tx.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))


async def delete_for_user(tx: Tx, user_id: int, keep_id_hash: str = "") -> int:
    """End the user's sessions but the one of `keep_id_hash`; how many ended."""
    return await tx.execute("DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?",
                            (user_id, keep_id_hash))


async def delete_idle(tx: Tx, seen_before: str) -> int:
    return await tx.execute("DELETE FROM sessions WHERE last_seen_at < ?", (seen_before,))


async def failures(conn: Conn, key: str) -> Row | None:
    return await conn.fetchone(
        "SELECT failures, window_started_at FROM sign_in_failures WHERE key = ?", (key,))


async def take_attempt(tx: Tx, key: str, limit: int, window_start_after: str) -> int | None:
    """Count one sign-in attempt for `key`: its number in the window, or None at `limit`.

    One upsert, so parallel attempts cannot all pass a check made before any of them
    is counted, nor insert the same new key twice. A window that started before
    `window_start_after` is over: counting starts again from one.
    """
    value = await tx.fetchval(
        "INSERT INTO sign_in_failures (key, failures, window_started_at) VALUES (?, 1, ?) "
        "ON CONFLICT (key) DO UPDATE SET "
        "failures = CASE WHEN sign_in_failures.window_started_at < ? THEN 1 "
        "ELSE sign_in_failures.failures + 1 END, "
        "window_started_at = CASE WHEN sign_in_failures.window_started_at < ? "
        "THEN excluded.window_started_at ELSE sign_in_failures.window_started_at END "
        "WHERE sign_in_failures.failures < ? OR sign_in_failures.window_started_at < ? "
        "RETURNING failures",
        (key, now_iso(), window_start_after, window_start_after, limit, window_start_after))
    return None if value is None else int(value)


async def give_back_attempt(tx: Tx, key: str) -> None:
    """Uncount an attempt that turned out to be a success."""
    await tx.execute("UPDATE sign_in_failures SET failures = failures - 1 "
                     "WHERE key = ? AND failures > 0", (key,))


async def clear_failures(tx: Tx, key: str) -> None:
    await tx.execute("DELETE FROM sign_in_failures WHERE key = ?", (key,))


async def delete_old_failures(tx: Tx, window_started_before: str) -> int:
    return await tx.execute("DELETE FROM sign_in_failures WHERE window_started_at < ?",
                            (window_started_before,))
