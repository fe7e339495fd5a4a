"""Job queue benchmark: enqueue a burst in one transaction, then run it to the end.

    uv run python bench/jobs_bench.py [--jobs 1000] [--concurrency 4] [--postgres URL]

On a fresh SQLite database (and on PostgreSQL, given a URL of a database it may
fill: a scratch one), it times enqueueing `--jobs` jobs in one transaction one by
one (then rolled back), and with `enqueue_many` (the outbox of one change fanning
out, committed), then starts one runner with a handler that does nothing
and times until every job is done. Prints the enqueue time, the time to run them
all, and jobs per second: the queue's own cost per job (claim, lease, outcome),
which every notification, e-mail and webhook will pay. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from tasklette.services import jobs
from tasklette.services.job_runner import Job, JobRunner
from tasklette.settings import Settings, load_settings
from tasklette.storage.open import connect


class _RollBack(Exception):
    pass


async def _measure(settings: Settings, count: int, concurrency: int
                   ) -> tuple[float, float, float]:
    db = await connect(settings)
    try:
        await jobs.purge(db, 0)  # a scratch database: the last run's jobs go
        enqueued = 0.0
        with contextlib.suppress(_RollBack):
            async with db.transaction() as tx:  # one by one; then undone
                started = time.perf_counter()
                for n in range(count):
                    await jobs.enqueue(tx, "bench.noop", {"n": n}, key=str(n))
                enqueued = time.perf_counter() - started
                raise _RollBack()
        started = time.perf_counter()
        async with db.transaction() as tx:  # the same, as one fan-out
            await jobs.enqueue_many(tx, "bench.noop", [({"n": n}, f"many-{n}")
                                                      for n in range(count)])
        fanned = time.perf_counter() - started
        finished = asyncio.Event()
        ran = 0

        async def noop(job: Job) -> None:
            nonlocal ran
            ran += 1
            if ran == count:
                finished.set()

        runner = JobRunner(db, {"bench.noop": noop}, concurrency=concurrency)
        started = time.perf_counter()
        runner.start()
        await asyncio.wait_for(finished.wait(), 600)
        while (await jobs.list_jobs(db, "done", limit=1)).counts["done"] < count:
            await asyncio.sleep(0.005)  # the last outcomes are being recorded
        elapsed = time.perf_counter() - started
        await runner.stop()
        return enqueued, fanned, elapsed
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", default="", help="a scratch PostgreSQL database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        engines = [("SQLite", load_settings(environ={}, data_dir=Path(work)))]
        if args.postgres:
            engines.append(("PostgreSQL", load_settings(environ={}, data_dir=Path(work),
                                                        database_url=args.postgres)))
        for name, settings in engines:
            enqueued, fanned, ran = asyncio.run(
                _measure(settings, args.jobs, args.concurrency))
            print(f"{name:<10} {args.jobs} jobs in one transaction: enqueue one by one "
                  f"{enqueued * 1000:.0f} ms, enqueue_many {fanned * 1000:.0f} ms (with its "
                  f"commit); run (concurrency {args.concurrency}) in {ran:.2f} s = "
                  f"{args.jobs / ran:,.0f} jobs/s")


if __name__ == "__main__":
    main()
