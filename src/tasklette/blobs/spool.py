"""Spools: temporary files that receive an upload while its SHA-256 is computed.

A spool lives in the store's temporary directory (the same file system as the
store, so that committing it is a rename). Its file is created exclusively and
held under an exclusive `flock` for as long as the spool is open, so a sweep by
any process can tell a stale file (left by a crash: lockable) from one being
written (locked). Writing, hashing and fsync run in a worker thread, never on
the event loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

HEAD_BYTES = 4096  # kept in memory to sniff the content type


class Spool:
    """One temporary file being written; `sha256`, `size` and `head` once finished."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self._file: BinaryIO | None = file
        self._hash = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.sha256 = ""
        self.placed = False  # moved into the store: the temporary file is gone

    @classmethod
    async def create(cls, directory: Path) -> Spool:
        return await anyio.to_thread.run_sync(cls._create, directory)

    @classmethod
    def _create(cls, directory: Path) -> Spool:
        while True:
            fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A sweep may have removed the file between its creation and our lock:
            # then the name no longer leads to our file, and we start again.
            try:
                same = os.stat(name).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return cls(Path(name), os.fdopen(fd, "wb"))
            os.close(fd)

    async def write(self, chunks: Sequence[bytes]) -> None:
        """Append `chunks` (hashing them on the way) in a worker thread."""
        if chunks:
            await anyio.to_thread.run_sync(self._write, chunks)

    def _write(self, chunks: Sequence[bytes]) -> None:
        assert self._file is not None, "the spool is closed"
        for chunk in chunks:
            self._hash.update(chunk)  # releases the GIL for large chunks
            self._file.write(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[:HEAD_BYTES - len(self.head)]
            self.size += len(chunk)

    async def finish(self) -> None:
        """Flush and fsync the file: its bytes are on disk, `sha256` is final."""
        await anyio.to_thread.run_sync(self._finish)

    def _finish(self) -> None:
        assert self._file is not None, "the spool is closed"
        self._file.flush()
        os.fsync(self._file.fileno())
        self.sha256 = self._hash.hexdigest()

    def close(self) -> None:
        """Release the file (and its lock); the temporary file itself stays."""
        if self._file is not None:
            self._file.close()
            self._file = None

    async def discard(self) -> None:
        """Close and remove the temporary file, unless it was moved into the store."""
        await anyio.to_thread.run_sync(self.remove)

    def remove(self) -> None:
        """`discard`, for a caller already in a worker thread."""
        self.close()
        if not self.placed:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def sweep(directory: Path) -> int:
    """Remove temporary files no process is writing (left by a crash); return how many."""
    removed = 0
    for path in directory.glob("upload-*.part"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # an upload in progress, in this process or another
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        finally:
            os.close(fd)
    return removed
