"""Removing the files of deleted attachments, after commit and after a grace period.

A deletion names the digests it may have orphaned (`note_deleted`, in its own
transaction). The sweeper takes each once `blob_grace_seconds` have passed: under
the digest's lock it checks that no attachment names it and marks the removal as
under way (one transaction), removes the file with no transaction open (a slow S3
DELETE holds up no other writer), then records the removal (another). An upload of
the same bytes waits while a removal is under way and refuses to record a file
removed after it was put (services.attachments.add), so no row names a missing
file. A crash anywhere leaves the candidate, or its mark, for the next sweep: at
start-up, then every few seconds; a mark left by a dead sweeper is taken over after
`LEASE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from tasklette.blobs.store import BlobStore
from tasklette.clock import now_iso
from tasklette.storage import attachments, blob_garbage
from tasklette.storage.database import Database, Tx, retried

LEASE = timedelta(minutes=10)  # far longer than one DELETE takes, timeouts included
KEEP_RECORDS = timedelta(days=1)  # far longer than one upload takes
BATCH = 100
log = logging.getLogger("tasklette.blobs")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def note_deleted(tx: Tx, digests: Iterable[str]) -> None:
    """In a deletion's transaction: these files may have lost their last attachment."""
    await blob_garbage.record(tx, digests, now_iso())


@retried
async def _claim(db: Database, sha256: str, cutoff: str | None, stale_before: str
                 ) -> str | None:
    """Mark the digest's removal as under way if it is due (any time, without `cutoff`)
    and no attachment names it; the claim's time if the file is now to be removed."""
    async with db.transaction() as tx:
        await attachments.lock_blob(tx, sha256)
        row = await blob_garbage.get(tx, sha256)
        if cutoff is not None:
            if row is None:
                return None
            due = row["removing_since"] is None and row["since"] is not None \
                and row["since"] <= cutoff
            stale = row["removing_since"] is not None and row["removing_since"] < stale_before
            if not (due or stale):
                return None
        elif row is not None and row["removing_since"] is not None \
                and row["removing_since"] >= stale_before:
            return None  # another sweeper is at it
        if await attachments.is_referenced(tx, sha256):
            if row is not None:
                await blob_garbage.keep(tx, sha256)
            return None
        claimed = now_iso()
        await blob_garbage.start_removal(tx, sha256, claimed)
        return claimed


@retried
async def _finish(db: Database, sha256: str, claimed: str) -> None:
    async with db.transaction() as tx:
        await attachments.lock_blob(tx, sha256)
        await blob_garbage.finish_removal(tx, sha256, claimed, now_iso())


@retried
async def _postpone(db: Database, sha256: str, claimed: str) -> None:
    async with db.transaction() as tx:
        await attachments.lock_blob(tx, sha256)
        await blob_garbage.retry_later(tx, sha256, claimed, now_iso())


async def remove_if_unreferenced(db: Database, store: BlobStore, sha256: str, *,
                                 cutoff: str | None = None) -> bool:
    """Remove the digest's file if no attachment names it (and, given `cutoff`, if it
    became a candidate before then); True if a file was removed."""
    stale_before = _iso(datetime.now(UTC) - LEASE)
    claimed = await _claim(db, sha256, cutoff, stale_before)
    if claimed is None:
        return False
    try:
        removed = await store.delete(sha256)  # no transaction is open here
    except BaseException:
        with contextlib.suppress(Exception):
            await _postpone(db, sha256, claimed)
        raise
    await _finish(db, sha256, claimed)
    return removed


async def sweep(db: Database, store: BlobStore, grace_seconds: int,
                stopping: Callable[[], bool] = lambda: False) -> int:
    """Remove every due candidate's file that nothing names; how many were removed.
    `stopping` is asked between files (a shutdown lets the current one finish)."""
    now = datetime.now(UTC)
    cutoff = _iso(now - timedelta(seconds=grace_seconds))
    removed = 0
    seen: set[str] = set()
    while True:
        async with db.reading() as conn:
            batch = [sha256 for sha256 in await blob_garbage.due(
                conn, cutoff, _iso(now - LEASE), BATCH) if sha256 not in seen]
        if not batch:
            break
        for sha256 in batch:
            if stopping():
                return removed
            seen.add(sha256)
            try:
                removed += await remove_if_unreferenced(db, store, sha256, cutoff=cutoff)
            except Exception:
                log.exception("could not remove the file %s; it is tried again later",
                              sha256)
    await _forget_old(db, _iso(now - KEEP_RECORDS))
    return removed


@retried
async def _forget_old(db: Database, before: str) -> None:
    async with db.transaction() as tx:
        await blob_garbage.forget_old(tx, before)


class Sweeper:
    """Sweeps at start-up, then every few seconds, in the server's event loop."""

    def __init__(self, db: Database, store: BlobStore, grace_seconds: int) -> None:
        self.db, self.store, self.grace = db, store, grace_seconds
        # Often enough that a file outlives its grace period by little.
        self.interval = min(30.0, max(0.25, grace_seconds / 4))
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await sweep(self.db, self.store, self.grace, self._stopping.is_set)
            except Exception:
                log.exception("the sweep of deleted files failed; it runs again soon")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def stop(self) -> None:
        """Let the file being removed finish (a cut-off removal waits out `LEASE`)."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 10)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
