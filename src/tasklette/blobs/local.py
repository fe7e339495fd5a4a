"""The blob store in a local directory: `sha256/ab/cd/abcd…` under its root.

A blob enters the store only by an atomic rename of a complete, fsynced spool,
followed by an fsync of its directory: after a crash a blob is either wholly
there or not there at all. Every file operation runs in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import anyio
import anyio.to_thread

from tasklette.blobs import spool as spools
from tasklette.blobs.spool import Spool
from tasklette.blobs.store import BlobMissing, BlobStat, check_sha256, spool_and_put

READ_CHUNK = 256 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs as files under `root`; spools in `root/tmp` (the same file system)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "sha256"
        self.tmp = root / "tmp"

    @classmethod
    async def open(cls, root: Path) -> LocalBlobStore:
        """Open (creating it if need be) the store at `root`, sweeping stale spools."""
        store = cls(root)
        await anyio.to_thread.run_sync(store._make_dirs)
        await store.sweep()
        return store

    def _make_dirs(self) -> None:
        for directory in (self.root, self.blobs, self.tmp):
            if not directory.is_dir():
                directory.mkdir(parents=True, exist_ok=True)
                _fsync_dir(directory.parent)

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.blobs / sha256[:2] / sha256[2:4] / sha256

    # --- writing -------------------------------------------------------------------

    async def open_spool(self) -> Spool:
        return await Spool.create(self.tmp)

    async def put_spool(self, spool: Spool) -> bool:
        return await anyio.to_thread.run_sync(self._put_spool, spool)

    def _put_spool(self, spool: Spool) -> bool:
        final = self.path(spool.sha256)
        if spool.placed:
            # Put before, in a transaction that was rolled back and is now retried.
            if not final.is_file():
                raise BlobMissing(spool.sha256)
            return False
        if final.is_file():
            spool.remove()
            spool.placed = True
            return False
        self._make_parents(final.parent)
        os.rename(spool.path, final)
        spool.placed = True
        spool.close()
        _fsync_dir(final.parent)
        return True

    def _make_parents(self, directory: Path) -> None:
        """Create `directory` below the blobs root, each new level made durable."""
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for new in reversed(missing):
            with contextlib.suppress(FileExistsError):
                new.mkdir()
            _fsync_dir(new.parent)

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> BlobStat:
        return await spool_and_put(self, chunks)

    # --- reading -------------------------------------------------------------------

    async def read(self, sha256: str, start: int = 0,
                   end: int | None = None) -> AsyncIterator[bytes]:
        try:
            file = await anyio.open_file(self.path(sha256), "rb")
        except FileNotFoundError:
            raise BlobMissing(sha256) from None
        try:
            await file.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = await file.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()

    async def stat(self, sha256: str) -> BlobStat | None:
        try:
            result = await anyio.to_thread.run_sync(os.stat, self.path(sha256))
        except FileNotFoundError:
            return None
        return BlobStat(sha256, result.st_size)

    async def delete(self, sha256: str) -> bool:
        path = self.path(sha256)
        try:
            await anyio.to_thread.run_sync(path.unlink)
        except FileNotFoundError:
            return False
        return True

    async def iterate(self) -> AsyncIterator[BlobStat]:
        for first in await anyio.to_thread.run_sync(self._subdirs, self.blobs):
            for second in await anyio.to_thread.run_sync(self._subdirs, first):
                for found in await anyio.to_thread.run_sync(self._blobs_in, second):
                    yield found

    @staticmethod
    def _subdirs(directory: Path) -> list[Path]:
        with os.scandir(directory) as entries:
            return sorted(Path(entry.path) for entry in entries
                          if entry.is_dir(follow_symlinks=False) and len(entry.name) == 2)

    @staticmethod
    def _blobs_in(directory: Path) -> list[BlobStat]:
        with os.scandir(directory) as entries:
            return [BlobStat(entry.name, entry.stat(follow_symlinks=False).st_size)
                    for entry in entries if entry.is_file(follow_symlinks=False)
                    and len(entry.name) == 64]

    async def sweep(self) -> int:
        return await anyio.to_thread.run_sync(spools.sweep, self.tmp)

    async def close(self) -> None:
        """Nothing to release: every file is closed when its operation ends."""
