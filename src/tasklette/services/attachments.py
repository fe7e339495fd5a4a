"""Attachments: files on tasks. Members read them; editors add and delete them.

A file's bytes are put into the blob store, then its row (with its event) written in
one transaction, under a lock on its digest that removing a blob takes too; no call
to the store is made while a transaction is open. Deleting the last row naming a
blob removes the blob after a grace period (services.blob_garbage).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tasklette.blobs.sniff import sniff
from tasklette.blobs.spool import Spool
from tasklette.blobs.store import BlobStore
from tasklette.services import blob_garbage as blob_garbage_service
from tasklette.services import permissions
from tasklette.services.errors import Busy, NotFound
from tasklette.services.permissions import Actor
from tasklette.services.tasks import card_of
from tasklette.storage import attachments, blob_garbage, events, tasks
from tasklette.storage.database import Database, Row, retried

MAX_NAME = 255
REMOVAL_WAITS = 200  # of 50 ms: how long an upload waits for a removal of its bytes
# Bidirectional controls can make "evil\u202Etxt.exe" read as "evilexe.txt".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass
class NewFile:
    """A received file: the name the client gave, and its finished spool."""

    filename: str | None
    spool: Spool
    stored: bool = False  # put into the blob store (once, even if recording is retried)
    removals_seen: int = 0  # the file's count of removals before it was put


def clean_filename(raw: str | None) -> str:
    """A name to show for a file: its last path component, without control characters.

    Unicode is kept; the name never forms a path on disk (blobs are named by digest).
    """
    text = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text
                   if unicodedata.category(ch) != "Cc" and ch not in _BIDI).strip()
    if text in ("", ".", ".."):
        return "file"
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            text = stem[:MAX_NAME - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:MAX_NAME].rstrip()
    return text


def _summary(row: Row, task_title: str) -> dict[str, Any]:
    return {"id": row["id"], "name": row["filename"], "size": row["size"],
            "content_type": row["content_type"], "sha256": row["sha256"],
            "task_title": task_title}


async def require_uploader(db: Database, actor: Actor, task_id: int) -> Row:
    """The task, when the actor may add files to it: checked before a byte is read."""
    async with db.reading() as conn:
        task = await tasks.get_for_member(conn, task_id, actor.id)
    if task is None:
        raise NotFound("task not found")
    permissions.require_edit(task["role"], "task")
    return task


async def add(db: Database, store: BlobStore, actor: Actor, task_id: int,
              files: list[NewFile]) -> list[Row]:
    """Store finished uploads and record them on the task; the new attachments."""
    try:
        return await _add(db, store, actor, task_id, files)
    except BaseException:
        # Put but not recorded (the task went, the database refused): the sweeper
        # removes the files later, unless other attachments have them.
        stored = [file.spool.sha256 for file in files if file.stored]
        if stored:
            with contextlib.suppress(Exception):
                await _note_unrecorded(db, stored)
        raise


@retried
async def _note_unrecorded(db: Database, digests: list[str]) -> None:
    async with db.transaction() as tx:
        await blob_garbage_service.note_deleted(tx, digests)


@retried
async def _add(db: Database, store: BlobStore, actor: Actor, task_id: int,
               files: list[NewFile]) -> list[Row]:
    # The bytes go into the store before the transaction, which then only records them:
    # a large file sent to S3 must not hold up every other writer meanwhile.
    unstored = [file for file in files if not file.stored]
    if unstored:
        seen = await _settled_removals(db, [file.spool.sha256 for file in unstored])
        for file in unstored:
            file.removals_seen = seen[file.spool.sha256]
            await store.put_spool(file.spool)
            file.stored = True
    async with db.transaction() as tx:
        task = await tasks.get_for_member(tx, task_id, actor.id)
        if task is None:
            raise NotFound("task not found")
        permissions.require_edit(task["role"], "task")
        digests = sorted({file.spool.sha256 for file in files})
        for sha256 in digests:  # one lock order
            await attachments.lock_blob(tx, sha256)
        # Under the lock, and with no call to the store: was the file removed (or is it
        # being removed) since it was put? Its bytes are gone with it, so ask again.
        now = await blob_garbage.removals(tx, digests)
        if any(now[file.spool.sha256] != (file.removals_seen, False) for file in files):
            raise Busy("the file was removed while it was being saved; upload it again")
        created = []
        for file in files:
            spool = file.spool
            attachment_id = await attachments.insert(
                tx, task_id, actor.id, clean_filename(file.filename), spool.size,
                spool.sha256, sniff(spool.head))
            row = await attachments.get(tx, attachment_id)
            assert row is not None
            await events.append(tx, task["project_id"], actor.id, "attachment.added",
                                "attachment", attachment_id,
                                {**_summary(row, task["title"]),
                                 "card": await card_of(tx, task_id)}, task_id=task_id)
            created.append(row)
    return created


async def _settled_removals(db: Database, digests: list[str]) -> dict[str, int]:
    """Each digest's count of finished removals, once none is under way (waiting for one,
    so that the file is put after it rather than into it)."""
    for _ in range(REMOVAL_WAITS):
        async with db.reading() as conn:
            found = await blob_garbage.removals(conn, digests)
        if not any(under_way for _, under_way in found.values()):
            return {sha256: count for sha256, (count, _) in found.items()}
        await asyncio.sleep(0.05)
    raise Busy("a file with the same bytes is being removed; upload it again in a moment")


async def list_for_task(db: Database, actor: Actor, task_id: int) -> list[Row]:
    async with db.reading() as conn:
        if await tasks.get_for_member(conn, task_id, actor.id) is None:
            raise NotFound("task not found")
        return await attachments.list_for_task(conn, task_id)


async def get(db: Database, actor: Actor, attachment_id: int) -> Row:
    """The attachment with the actor's `role`; NotFound for non-members."""
    async with db.reading() as conn:
        found = await attachments.get_for_member(conn, attachment_id, actor.id)
    if found is None:
        raise NotFound("attachment not found")
    return found


@retried
async def delete(db: Database, actor: Actor, attachment_id: int) -> Row:
    """Remove the attachment (editors); its file goes after the grace period, unless
    another attachment has the same bytes (services.blob_garbage)."""
    async with db.transaction() as tx:
        found = await attachments.get_for_member(tx, attachment_id, actor.id)
        if found is None:
            raise NotFound("attachment not found")
        permissions.require_edit(found["role"], "attachment")
        await attachments.delete(tx, attachment_id)
        await blob_garbage_service.note_deleted(tx, [found["sha256"]])
        await events.append(tx, found["project_id"], actor.id, "attachment.deleted",
                            "attachment", attachment_id,
                            {**_summary(found, found["task_title"]),
                             "card": await card_of(tx, found["task_id"])},
                            task_id=found["task_id"])
    return found


# --- checking and collecting the whole store (tasklette blobs check / gc) ----------------


@dataclass
class CheckReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)  # named by attachments, not stored
    corrupt: list[str] = field(default_factory=list)  # stored bytes differ from the name
    unreferenced: int = 0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


async def check_blobs(db: Database, store: BlobStore,
                      progress: Callable[[int], None]) -> CheckReport:
    """Hash every stored blob; `progress` is told each blob's size once it is read."""
    async with db.reading() as conn:
        referenced = await attachments.referenced_blobs(conn)
    report = CheckReport()
    stored: set[str] = set()
    async for blob in store.iterate():
        stored.add(blob.sha256)
        digest = hashlib.sha256()
        async for chunk in store.read(blob.sha256):
            digest.update(chunk)
        if digest.hexdigest() != blob.sha256 or (
                blob.sha256 in referenced and referenced[blob.sha256] != blob.size):
            report.corrupt.append(blob.sha256)
        if blob.sha256 not in referenced:
            report.unreferenced += 1
        report.checked += 1
        progress(blob.size)
    report.missing = sorted(set(referenced) - stored)
    report.corrupt.sort()
    return report


@dataclass
class CollectReport:
    removed: int = 0
    freed_bytes: int = 0
    kept: int = 0


async def collect_garbage(db: Database, store: BlobStore,
                          progress: Callable[[int], None]) -> CollectReport:
    """Remove every blob no attachment names; `progress` is told of each blob seen."""
    async with db.reading() as conn:
        referenced = await attachments.referenced_blobs(conn)
    report = CollectReport()
    async for blob in store.iterate():
        # The snapshot only spares the lock for blobs in use; the decision is locked.
        if blob.sha256 not in referenced and \
                await blob_garbage_service.remove_if_unreferenced(db, store, blob.sha256):
            report.removed += 1
            report.freed_bytes += blob.size
        else:
            report.kept += 1
        progress(1)
    return report


async def blob_totals(store: BlobStore) -> tuple[int, int]:
    """How many blobs the store holds and their total size (for progress bars)."""
    count = size = 0
    async for blob in store.iterate():
        count += 1
        size += blob.size
    return count, size
