"""The queue whose own thread writes an upload's chunks while the event loop reads on."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tasklette.blobs.writer import ChunkQueue, QueueClosed


def test_chunks_are_worked_on_in_order_in_another_thread() -> None:
    seen: list[bytes] = []
    threads: set[int] = set()

    def work(batch: list[bytes]) -> None:
        threads.add(threading.get_ident())
        seen.extend(batch)

    async def main() -> None:
        queue = ChunkQueue(work, limit=1000, max_batch=3)
        sent = [str(i).encode() * (i % 7 + 1) for i in range(500)]
        for i in range(0, 500, 2):
            await queue.put(sent[i:i + 2])
            if i % 50 == 0:
                await asyncio.sleep(0.001)
        await queue.drain()
        assert seen == sent
        assert threading.get_ident() not in threads
        await queue.close()

    asyncio.run(main())


def test_put_waits_while_more_than_the_limit_is_queued() -> None:
    gate = threading.Event()
    worked: list[int] = []

    def work(batch: list[bytes]) -> None:
        gate.wait(5)
        worked.append(sum(len(chunk) for chunk in batch))

    async def main() -> None:
        queue = ChunkQueue(work, limit=100)
        await queue.put([b"x" * 60])  # under the limit: does not wait
        await queue.put([b"x" * 30])
        put = asyncio.create_task(queue.put([b"x" * 50]))  # 140 queued: waits
        await asyncio.sleep(0.1)
        assert not put.done()
        gate.set()
        await asyncio.wait_for(put, 5)
        await queue.drain()
        assert sum(worked) == 140
        await queue.close()

    asyncio.run(main())


def test_an_error_of_the_work_is_raised_by_the_next_put_or_drain() -> None:
    def work(batch: list[bytes]) -> None:
        if b"bad" in batch:
            raise OSError(28, "No space left on device")

    async def main() -> None:
        queue = ChunkQueue(work, limit=10)
        await queue.put([b"good"])
        await queue.put([b"bad"])
        with pytest.raises(OSError, match="No space"):
            await queue.drain()
        with pytest.raises(OSError, match="No space"):
            await queue.put([b"more"])
        await queue.close()  # never raises the work's error

    asyncio.run(main())


def test_close_waits_for_the_work_under_way_and_drops_the_rest() -> None:
    started, gate = threading.Event(), threading.Event()
    seen: list[bytes] = []

    def work(batch: list[bytes]) -> None:
        started.set()
        gate.wait(5)
        time.sleep(0.05)
        seen.extend(batch)

    async def main() -> None:
        queue = ChunkQueue(work, limit=1000, max_batch=1)
        await queue.put([b"first", b"second", b"third"])
        await asyncio.to_thread(started.wait, 5)
        closing = asyncio.create_task(queue.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # "first" is being worked on
        gate.set()
        await asyncio.wait_for(closing, 5)
        assert seen == [b"first"]  # done before close returned; the rest never
        await asyncio.sleep(0.1)
        assert seen == [b"first"]
        with pytest.raises(QueueClosed):
            await queue.put([b"late"])

    asyncio.run(main())


def test_an_idle_queue_holds_no_thread_and_starts_one_for_the_next_chunk() -> None:
    seen: list[bytes] = []

    def running() -> int:
        return sum(1 for thread in threading.enumerate() if thread.name == "tasklette-chunks")

    async def main() -> None:
        queue = ChunkQueue(seen.extend, limit=1000, idle=0.05)
        await queue.put([b"one"])
        await queue.drain()
        deadline = time.monotonic() + 5
        while running() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert running() == 0
        await queue.put([b"two"])
        await queue.drain()
        assert seen == [b"one", b"two"]
        await queue.close()

    asyncio.run(main())
