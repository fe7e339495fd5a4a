"""A thread that works through queued chunks in order, while the event loop goes on.

An upload's chunks are hashed and written off the event loop. Handing each batch to
a thread pool and waiting for it before the next (one hand-off, one wake-up of the
loop and several GIL switches per batch) made uploads half as fast as doing the same
work on the loop. Here the loop only queues a chunk and carries on; one thread per
queue takes whatever is queued (one `writev` for all of it) and wakes the loop only
when it waits: when more than `limit` bytes are queued (the memory an upload holds),
or for the end. The thread ends after `idle` seconds with nothing queued (a client
that sends slowly holds no thread), and the next chunk starts another.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence


class QueueClosed(RuntimeError):
    """Chunks were queued after `close`."""


class ChunkQueue:
    """Chunks for `work`, called in a thread of the queue's own, in order, with lists of
    them (as many as are queued, up to `max_batch`). Create it on the event loop."""

    def __init__(self, work: Callable[[list[bytes]], None], *, limit: int,
                 max_batch: int = 1024, idle: float = 2.0) -> None:
        self._work = work
        self._limit = limit
        self._max_batch = max_batch
        self._idle = idle
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)
        self._chunks: deque[bytes] = deque()
        self._queued = 0  # bytes queued or being worked on
        self._running = False  # a thread serves the queue
        self._closed = False
        self._error: BaseException | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # (up to bytes, future)

    async def put(self, chunks: Sequence[bytes]) -> None:
        """Queue `chunks`; wait only while more than `limit` bytes are queued. Raises
        what `work` raised, if it failed."""
        size = sum(len(chunk) for chunk in chunks)
        with self._lock:
            self._check()
            self._chunks.extend(chunks)
            self._queued += size
            if self._running:
                self._more.notify()
            else:
                self._running = True
                threading.Thread(target=self._serve, name="tasklette-chunks",
                                 daemon=True).start()
            waiter = self._waiter(self._limit) if self._queued > self._limit else None
        if waiter is not None:
            await waiter
            with self._lock:
                self._check()

    async def drain(self) -> None:
        """Wait until every queued chunk has been worked on; raise what `work` raised."""
        with self._lock:
            self._check()
            waiter = self._waiter(0) if self._queued else None
        if waiter is not None:
            await waiter
            with self._lock:
                self._check()

    async def close(self) -> None:
        """Drop what is queued, and wait for the chunks being worked on (if any): after
        this, `work` is not running and will not run again. Never raises `work`'s error."""
        with self._lock:
            self._closed = True
            self._queued -= sum(len(chunk) for chunk in self._chunks)
            self._chunks.clear()
            self._more.notify()
            waiter = self._waiter(0) if self._queued else None
        if waiter is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(waiter)

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise QueueClosed("the queue is closed")

    def _waiter(self, up_to: int) -> asyncio.Future[None]:
        future = self._loop.create_future()
        self._waiters.append((up_to, future))
        return future

    # --- in the queue's thread ----------------------------------------------------

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._chunks:
                    if self._closed or (not self._more.wait(self._idle) and not self._chunks):
                        self._running = False
                        return
                count = min(len(self._chunks), self._max_batch)
                batch = [self._chunks.popleft() for _ in range(count)]
            error = None
            try:
                self._work(batch)
            except BaseException as exc:
                error = exc
            with self._lock:
                self._queued -= sum(len(chunk) for chunk in batch)
                if error is not None:  # the rest is dropped: `put` and `drain` raise
                    self._error = error
                    self._queued -= sum(len(chunk) for chunk in self._chunks)
                    self._chunks.clear()
                ready = [future for up_to, future in self._waiters
                         if self._queued <= up_to or error is not None]
                self._waiters = [(up_to, future) for up_to, future in self._waiters
                                 if future not in ready]
                if error is not None:
                    self._running = False
            for future in ready:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    self._loop.call_soon_threadsafe(_wake, future)
            if error is not None:
                return


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
