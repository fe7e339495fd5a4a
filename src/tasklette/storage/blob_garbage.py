"""Blob garbage: digests whose files may be unreferenced, and their removals.

Written in the transaction that deletes attachments (or their tasks and projects);
read by the sweeper (services.blob_garbage), which removes a file once the grace
period after `since` has passed, outside any transaction, and only if no
attachment names it then.
"""

from __future__ import annotations

from collections.abc import Iterable

from tasklette.storage.database import Conn, Row, Tx


async def record(tx: Tx, digests: Iterable[str], since: str) -> None:
    """Name `digests` as candidates from `since` on (the latest deletion counts)."""
    rows = [(sha256, since) for sha256 in sorted(set(digests))]
    if rows:
        await tx.executemany(
            "INSERT INTO blob_garbage (sha256, since) VALUES (?, ?) ON CONFLICT (sha256) "
            "DO UPDATE SET since = excluded.since", rows)


async def get(conn: Conn, sha256: str) -> Row | None:
    return await conn.fetchone(
        "SELECT sha256, since, removing_since, removals FROM blob_garbage WHERE sha256 = ?",
        (sha256,))


async def removals(conn: Conn, digests: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """Each digest's count of finished removals, and whether one is under way."""
    found: dict[str, tuple[int, bool]] = {}
    for sha256 in sorted(set(digests)):
        row = await get(conn, sha256)
        found[sha256] = (0, False) if row is None else (
            int(row["removals"]), row["removing_since"] is not None)
    return found


async def due(conn: Conn, cutoff: str, stale_before: str, limit: int) -> list[str]:
    """Candidates named before `cutoff`, and removals left unfinished since
    `stale_before` (their sweeper died)."""
    rows = await conn.fetchtuples(
        "SELECT sha256 FROM blob_garbage WHERE (since <= ? AND removing_since IS NULL) "
        "OR removing_since < ? ORDER BY since LIMIT ?", (cutoff, stale_before, limit))
    return [str(sha256) for (sha256,) in rows]


async def keep(tx: Tx, sha256: str) -> None:
    """Named by an attachment again: no longer a candidate (past removals stay counted)."""
    await tx.execute("DELETE FROM blob_garbage WHERE sha256 = ? AND removals = 0", (sha256,))
    await tx.execute("UPDATE blob_garbage SET since = NULL, removing_since = NULL "
                     "WHERE sha256 = ?", (sha256,))


async def start_removal(tx: Tx, sha256: str, now: str) -> None:
    await tx.execute(
        "INSERT INTO blob_garbage (sha256, removing_since) VALUES (?, ?) ON CONFLICT (sha256) "
        "DO UPDATE SET removing_since = excluded.removing_since, since = NULL", (sha256, now))


async def finish_removal(tx: Tx, sha256: str, claimed: str, now: str) -> None:
    """The removal claimed at `claimed` is done (a sweeper that took it over after the
    lease has its own claim, and ends it itself)."""
    await tx.execute(
        "UPDATE blob_garbage SET removing_since = NULL, since = NULL, "
        "removals = removals + 1, removed_at = ? WHERE sha256 = ? AND removing_since = ?",
        (now, sha256, claimed))


async def retry_later(tx: Tx, sha256: str, claimed: str, since: str) -> None:
    """The store failed to remove the file: a candidate again, as from `since`."""
    await tx.execute("UPDATE blob_garbage SET removing_since = NULL, since = ? "
                     "WHERE sha256 = ? AND removing_since = ?", (since, sha256, claimed))


async def forget_old(tx: Tx, removed_before: str) -> int:
    """Drop the records of removals long finished: no upload takes that long."""
    return await tx.execute(
        "DELETE FROM blob_garbage WHERE since IS NULL AND removing_since IS NULL "
        "AND removed_at < ?", (removed_before,))
