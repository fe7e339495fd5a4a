"""Running jobs: claim due ones, run their handlers outside any transaction, record how
it went.

A runner claims a batch (one short transaction), then runs each job's handler with no
transaction open, so a slow job never holds the write lock; at most `concurrency` run
at once. While one runs, its lease is extended every third of `lease_seconds`. Then,
in one short transaction each, the job is done; or its error is kept and it is queued
again after an exponential backoff with jitter; or, after `max_attempts`, it failed.
Those outcomes are fenced by the lease (storage.jobs): a runner whose lease ran out
and was taken over changes nothing. A runner killed mid-job leaves it running until
its lease ends; then any runner takes it again (at-least-once: handlers get the job's
id and key to be idempotent). A handler that runs longer than `timeout_seconds` is
stopped, and that attempt counts as failed: a hung one does not hold its slot forever.

Runners wake every `poll_seconds`, at once after this process commits an enqueue,
and when one of their jobs ends. Handlers are an explicit table, kind -> coroutine
function, given to the runner; a job of a kind without one fails at once, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tasklette.clock import now_iso
from tasklette.services.jobs import add_waker, iso, remove_waker
from tasklette.settings import Settings
from tasklette.storage import jobs as store
from tasklette.storage.database import Database, Row, retried

log = logging.getLogger("tasklette.jobs")
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Job:
    """What a handler is given: the job, and which attempt this is (1 for the first)."""

    id: int
    kind: str
    key: str | None
    payload: Any
    attempt: int
    max_attempts: int


Handler = Callable[[Job], Awaitable[None]]


class JobTimeout(Exception):
    """A handler ran longer than its runner allows (a failed attempt, retried later)."""


# What builds a runner's handlers, given the database and settings they may use.
HandlerTable = Callable[[Database, Settings], Mapping[str, Handler]]


def built_in_handlers(db: Database, settings: Settings) -> dict[str, Handler]:
    """The kinds of job Tasklette itself runs, and their handlers."""
    # Imported here: the handlers' modules name `Job` from this one.
    from tasklette.services import notifications, notifying

    async def fan_out(job: Job) -> None:
        await notifications.fan_out(db, job)

    return {notifying.FAN_OUT: fan_out}


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, …): doubling from `base` up to
    `cap`, each a random half to whole of that ("equal jitter": spread, yet growing)."""
    ceiling = min(cap, base * 2 ** min(attempt - 1, 60))
    return random.uniform(ceiling / 2, ceiling)


def describe(exc: BaseException) -> str:
    """An error as kept in `last_error`: its type and message, bounded."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    # U+0000 cannot be stored on PostgreSQL: the outcome would never be recorded.
    return text.replace("\x00", "\\x00")[:MAX_ERROR_CHARS]


def worker_name() -> str:
    """A name no other runner has, that says where it runs (host, process)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _later(seconds: float) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


# --- the transactions of a runner, each a unit of its own ---------------------------------


async def claim(db: Database, worker: str, limit: int, lease_seconds: float, *,
                look_first: bool = True) -> list[Job]:
    """Take up to `limit` due jobs for `worker`, leased for `lease_seconds`. Looking first,
    when none is due (a runner's usual poll) no write transaction is opened: SQLite's
    writer and its fsync are left alone."""
    if look_first:
        async with db.reading() as conn:
            if not await store.any_due(conn, now_iso()):
                return []
    return await _claim(db, worker, limit, lease_seconds)


@retried
async def _claim(db: Database, worker: str, limit: int, lease_seconds: float) -> list[Job]:
    async with db.transaction() as tx:
        now = now_iso()
        await store.fail_abandoned(tx, now)
        rows = await store.claim(tx, worker, now, _later(lease_seconds), limit)
    return [_job(row) for row in rows]


def _job(row: Row) -> Job:
    try:
        payload = orjson.loads(row["payload"])
    except orjson.JSONDecodeError:
        payload = None  # written only by `enqueue`, as JSON: not expected
    return Job(int(row["id"]), str(row["kind"]), row["key"], payload, int(row["attempts"]),
               int(row["max_attempts"]))


@retried
async def extend_lease(db: Database, job: Job, worker: str, lease_seconds: float) -> bool:
    async with db.transaction() as tx:
        return await store.extend(tx, job.id, worker, job.attempt, _later(lease_seconds),
                                  now_iso())


@retried
async def record_done(db: Database, job: Job, worker: str) -> bool:
    async with db.transaction() as tx:
        return await store.finish(tx, job.id, worker, job.attempt, now_iso())


@retried
async def record_failure(db: Database, job: Job, worker: str, error: str, *,
                         permanent: bool, delay: float) -> bool:
    """Failed for good when `permanent` or out of attempts; else queued after `delay` s."""
    async with db.transaction() as tx:
        if permanent or job.attempt >= job.max_attempts:
            return await store.fail(tx, job.id, worker, job.attempt, error, now_iso())
        return await store.requeue(tx, job.id, worker, job.attempt, error, _later(delay),
                                   now_iso())


@retried
async def release(db: Database, job: Job, worker: str) -> bool:
    """Give back a job cut short by a shutdown: queued now, the attempt not counted."""
    async with db.transaction() as tx:
        now = now_iso()
        return await store.requeue(tx, job.id, worker, job.attempt, None, now, now,
                                   uncount=True)


# --- the runner -------------------------------------------------------------------------


class JobRunner:
    """Claims and runs jobs in the current event loop until stopped."""

    def __init__(self, db: Database, handlers: Mapping[str, Handler], *, concurrency: int = 4,
                 lease_seconds: float = 60, poll_seconds: float = 1.0,
                 backoff_base: float = 5.0, backoff_cap: float = 3600.0,
                 grace_seconds: float = 10.0, timeout_seconds: float = 600.0,
                 name: str | None = None) -> None:
        self.db, self.handlers = db, dict(handlers)
        self.concurrency, self.lease_seconds = concurrency, lease_seconds
        self.poll_seconds = poll_seconds
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.grace_seconds, self.timeout_seconds = grace_seconds, timeout_seconds
        self.name = name or worker_name()
        self._running: dict[asyncio.Task[None], Job] = {}
        self._wake = asyncio.Event()
        self._wake_pending = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        add_waker(self.wake_threadsafe)
        self._task = asyncio.create_task(self._run())

    def wake_threadsafe(self) -> None:
        """Look for due jobs now (callable from any thread). A commit of a thousand jobs
        wakes the runner once, not a thousand times."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._wake_pending:
            return
        self._wake_pending = True  # a race here costs one extra wake, nothing more
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        self._wake_pending = False
        self._wake.set()

    async def _run(self) -> None:
        backlog = False  # the last claim filled every free slot: more are likely due
        while not self._stopping:
            self._wake.clear()  # before the claim: a wake during it is not lost
            free = self.concurrency - len(self._running)
            if free > 0:
                try:
                    claimed = await claim(self.db, self.name, free, self.lease_seconds,
                                          look_first=not backlog)
                    backlog = len(claimed) == free
                    for job in claimed:
                        self._begin(job)
                except Exception:
                    backlog = False
                    log.exception("claiming jobs failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    def _begin(self, job: Job) -> None:
        task = asyncio.create_task(self._attempt(job), name=f"job {job.id} ({job.kind})")
        self._running[task] = job

        def ended(task: asyncio.Task[None]) -> None:
            self._running.pop(task, None)
            self._wake.set()  # room for another job

        task.add_done_callback(ended)

    async def _attempt(self, job: Job) -> None:
        """Run one attempt of `job` and record its outcome (fenced by its lease)."""
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self._record(record_failure(
                self.db, job, self.name, f"no handler for jobs of kind {job.kind!r} in this "
                "Tasklette", permanent=True, delay=0), job)
            return
        keeping = asyncio.create_task(self._keep_lease(job))
        try:
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    await handler(job)
            except TimeoutError as exc:
                raise JobTimeout(f"the job ran longer than {self.timeout_seconds:g} s and "
                                 "was stopped") from exc
        except asyncio.CancelledError:
            keeping.cancel()
            if self._stopping:  # a shutdown: another runner takes it up again at once
                with contextlib.suppress(Exception):
                    await asyncio.shield(release(self.db, job, self.name))
            raise
        except Exception as exc:
            keeping.cancel()
            log.warning("job %s (%s), attempt %s of %s, failed: %s", job.id, job.kind,
                        job.attempt, job.max_attempts, describe(exc),
                        exc_info=log.isEnabledFor(logging.DEBUG))
            delay = backoff(job.attempt, self.backoff_base, self.backoff_cap)
            await self._record(record_failure(self.db, job, self.name, describe(exc),
                                              permanent=False, delay=delay), job)
            return
        keeping.cancel()
        await self._record(record_done(self.db, job, self.name), job)

    async def _record(self, outcome: Awaitable[bool], job: Job) -> None:
        try:
            recorded = await outcome
        except Exception:
            # Left running: after its lease another runner runs it again.
            log.exception("could not record the outcome of job %s; it runs again after "
                          "its lease", job.id)
            return
        if not recorded:
            log.warning("job %s was taken over by another runner after its lease ran out; "
                        "its outcome here is not recorded", job.id)

    async def _keep_lease(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                if not await extend_lease(self.db, job, self.name, self.lease_seconds):
                    log.warning("job %s: its lease was lost (taken over by another runner)",
                                job.id)
                    return
            except Exception:
                log.exception("could not extend the lease of job %s", job.id)

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Claim no more; let running jobs finish for `grace_seconds` (default: the
        runner's), then cut them short and give them back to the queue."""
        if grace_seconds is None:
            grace_seconds = self.grace_seconds
        remove_waker(self.wake_threadsafe)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        running = list(self._running)
        if running:
            _, late = await asyncio.wait(running, timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
