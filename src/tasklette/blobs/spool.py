"""Spools: temporary files that receive an upload while its SHA-256 is computed.

A spool lives in the store's temporary directory (the same file system as the
store, so that committing it is a rename). Its file is created exclusively and
held under an exclusive `flock` for as long as the spool is open, so a sweep by
any process can tell a stale file (left by a crash: lockable) from one being
written (locked). Writing, hashing and fsync run in worker threads, never on the
event loop: the chunks go through a queue served by a thread of the spool's own
(`blobs.writer`), so that the loop goes on reading while they are written.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, cast

import anyio.to_thread

from tasklette.blobs.writer import ChunkQueue

HEAD_BYTES = 4096  # kept in memory to sniff the content type
QUEUE_BYTES = 128 * 1024  # queued for writing before `write` waits: an upload's memory
IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024
WRITEBACK_BYTES = 8 * 1024 * 1024  # written before the disk is asked to start on them


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
        self._queue: ChunkQueue | None = None
        self._unflushed = 0  # bytes written since the disk was last asked to start

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
                return cls(Path(name), os.fdopen(fd, "wb", buffering=0))
            os.close(fd)

    async def write(self, chunks: Sequence[bytes]) -> None:
        """Append `chunks`, hashing them on the way, in the spool's thread: they are
        queued, and this waits only while more than QUEUE_BYTES are. An error of an
        earlier write (a full disk) is raised here, or by `finish`."""
        if not chunks:
            return
        if self._queue is None:
            self._queue = ChunkQueue(self._write, limit=QUEUE_BYTES, max_batch=IOV_MAX)
        await self._queue.put(chunks)

    def _write(self, chunks: list[bytes]) -> None:
        assert self._file is not None, "the spool is closed"
        for chunk in chunks:
            self._hash.update(chunk)  # releases the GIL for large chunks
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[:HEAD_BYTES - len(self.head)]
            self.size += len(chunk)
        _write_all(self._file.fileno(), chunks)
        self._unflushed += sum(len(chunk) for chunk in chunks)
        if self._unflushed >= WRITEBACK_BYTES:
            # The final fsync then only waits for the last few megabytes.
            start_writeback(self._file.fileno(), self.size - self._unflushed,
                            self._unflushed)
            self._unflushed = 0

    async def finish(self) -> None:
        """Write what is queued, then fsync the file: its bytes are on disk, `sha256`
        is final."""
        if self._queue is not None:
            await self._queue.drain()
        await anyio.to_thread.run_sync(self._finish)

    def _finish(self) -> None:
        assert self._file is not None, "the spool is closed"
        os.fsync(self._file.fileno())
        self.sha256 = self._hash.hexdigest()

    def close(self) -> None:
        """Release the file (and its lock); the temporary file itself stays."""
        if self._file is not None:
            self._file.close()
            self._file = None

    async def discard(self) -> None:
        """Close and remove the temporary file, unless it was moved into the store."""
        if self._queue is not None:
            await self._queue.close()  # what is being written ends first; the rest is dropped
        await anyio.to_thread.run_sync(self.remove)

    def remove(self) -> None:
        """`discard`, for a caller already in a worker thread."""
        self.close()
        if not self.placed:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range, looked up on first use (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], function)


SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing `length` bytes of the file from `offset` to disk,
    without waiting for them (Linux's sync_file_range, as PostgreSQL does for its
    checkpoints); nothing elsewhere. Durability still comes from fsync alone."""
    function = _sync_file_range()
    if function is not None:
        function(fd, offset, length, SYNC_FILE_RANGE_WRITE)  # advice: its errors are moot


def _write_all(fd: int, chunks: list[bytes]) -> None:
    """Write every byte of `chunks` to `fd`: one `writev`, more if it writes less."""
    views = [memoryview(chunk) for chunk in chunks if chunk]
    first = 0
    while first < len(views):
        written = os.writev(fd, views[first:] if first else views)
        while first < len(views) and written >= len(views[first]):
            written -= len(views[first])
            first += 1
        if written:
            views[first] = views[first][written:]


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
