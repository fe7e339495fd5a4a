"""The job queue on real databases: the outbox, idempotent keys, retries with backoff,
failing for good, retry by hand, fenced leases, and two runners sharing the queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from tasklette.clock import now_iso
from tasklette.services import job_runner, jobs
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.job_runner import Job, JobRunner
from tasklette.settings import Settings
from tasklette.storage import jobs as job_store
from tasklette.storage.database import Database
from tasklette.storage.open import connect
from tests.conftest import BACKENDS
from tests.services.conftest import with_db

T = TypeVar("T")
FAST = {"poll_seconds": 0.05, "backoff_base": 0.05, "backoff_cap": 1.0}


async def rows(db: Database) -> list[dict[str, Any]]:
    async with db.reading() as conn:
        return await conn.fetchall(f"SELECT {job_store.COLUMNS} FROM jobs ORDER BY id")


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {timeout} s")
        await asyncio.sleep(0.02)


async def state_of(db: Database, job_id: int) -> str:
    return str((await jobs.get(db, job_id))["state"])


def done(db: Database, job_id: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await state_of(db, job_id) in ("done", "failed")
    return check


def parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# --- the outbox and its keys ---------------------------------------------------------


def test_a_rolled_back_enqueue_leaves_no_job(settings: Settings) -> None:
    class Undo(Exception):
        pass

    async def work(db: Database) -> list[dict[str, Any]]:
        with pytest.raises(Undo):
            async with db.transaction() as tx:
                assert await jobs.enqueue(tx, "test.note", {"n": 1}) is not None
                raise Undo()
        async with db.transaction() as tx:
            kept = await jobs.enqueue(tx, "test.note", {"n": 2})
        found = await rows(db)
        assert [row["id"] for row in found] == [kept]
        return found

    [row] = with_db(settings, work)
    assert (row["state"], row["payload"], row["attempts"]) == ("queued", '{"n":2}', 0)
    assert row["run_after"] <= row["created_at"]


def test_an_enqueue_with_a_taken_key_is_a_no_op(settings: Settings) -> None:
    async def work(db: Database) -> None:
        first = await jobs.submit(db, "test.note", {"v": 1}, key="task-7")
        assert first is not None
        assert await jobs.submit(db, "test.note", {"v": 2}, key="task-7") is None
        assert await jobs.submit(db, "test.other", {"v": 3}, key="task-7") is not None
        # Jobs without a key are never the same job.
        assert None not in [await jobs.submit(db, "test.note", {}) for _ in range(2)]
        found = await rows(db)
        assert len(found) == 4
        assert [r["payload"] for r in found if r["key"] == "task-7"] == ['{"v":1}', '{"v":3}']

    with_db(settings, work)


def test_a_fan_out_enqueues_many_at_once_in_the_transaction(settings: Settings) -> None:
    async def work(db: Database) -> None:
        await jobs.submit(db, "test.fan", {"n": -1}, key="user-7")
        with pytest.raises(Invalid):  # one bad item: none of them
            async with db.transaction() as tx:
                await jobs.enqueue_many(tx, "test.fan", [({"n": 1}, "a"), ({"n": 2}, "")])
        async with db.transaction() as tx:
            await jobs.enqueue_many(tx, "test.fan", [({"n": n}, f"user-{n}")
                                                     for n in range(300)], max_attempts=3)
            await jobs.enqueue_many(tx, "test.fan", [])
        found = await rows(db)
        assert len(found) == 300  # user-7 was taken: left out, its first job unchanged
        assert [r["payload"] for r in found if r["key"] == "user-7"] == ['{"n":-1}']
        assert {(r["state"], r["max_attempts"]) for r in found[1:]} == {("queued", 3)}

    with_db(settings, work)


def test_enqueue_refuses_what_it_cannot_keep(settings: Settings) -> None:
    async def work(db: Database) -> None:
        for kind, payload, key, attempts in (("", {}, None, 3), ("k" * 101, {}, None, 3),
                                             ("test", {"when": {1, 2}}, None, 3),
                                             ("test", {}, "", 3), ("test", {}, None, 0)):
            with pytest.raises(Invalid):
                await jobs.submit(db, kind, payload, key=key, max_attempts=attempts)
        assert await rows(db) == []

    with_db(settings, work)


# --- running, retrying, failing --------------------------------------------------------


def test_a_handler_that_fails_twice_runs_three_times_with_growing_delays(
        settings: Settings) -> None:
    base = 0.4
    seen: list[tuple[int, datetime, str | None]] = []
    failed_at: list[datetime] = []

    async def work(db: Database) -> None:
        async def flaky(job: Job) -> None:
            row = await jobs.get(db, job.id)
            seen.append((job.attempt, datetime.now(UTC), row["last_error"]))
            if job.attempt > 1:  # the run_after the last failure set
                failed_at.append(parse(row["run_after"]))
            if job.attempt < 3:
                failed_at.append(datetime.now(UTC))
                raise RuntimeError(f"try {job.attempt} failed")

        runner = JobRunner(db, {"test.flaky": flaky}, **{**FAST, "backoff_base": base})
        runner.start()
        try:
            job_id = await jobs.submit(db, "test.flaky", {}, key="one")
            assert job_id is not None
            await until(done(db, job_id))
        finally:
            await runner.stop()
        row = await jobs.get(db, job_id)
        assert (row["state"], row["attempts"]) == ("done", 3)
        assert row["last_error"] == "RuntimeError: try 2 failed"  # kept for the record

    with_db(settings, work)
    assert [(attempt, error) for attempt, _, error in seen] == [
        (1, None), (2, "RuntimeError: try 1 failed"), (3, "RuntimeError: try 2 failed")]
    fail1, due1, fail2, due2 = failed_at
    delay1, delay2 = (due1 - fail1).total_seconds(), (due2 - fail2).total_seconds()
    # A random half to whole of `base`, then of twice it: the delays grow (their ranges
    # meet only at `base`; the slack is the time taken to record the failure). Jitter
    # itself is checked in test_backoff_doubles_up_to_its_cap_with_jitter.
    assert base / 2 <= delay1 < base + 0.5, delay1
    assert base <= delay2 < 2 * base + 0.5, delay2
    assert seen[1][1] >= due1 and seen[2][1] >= due2  # never run before it was due


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    for attempt, ceiling in ((1, 5), (2, 10), (3, 20), (10, 60), (200, 60)):
        delays = [job_runner.backoff(attempt, 5, 60) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered: runners that failed together spread out


def test_out_of_attempts_a_job_fails_with_its_error_and_retry_brings_it_back(
        settings: Settings) -> None:
    healthy = asyncio.Event()

    async def work(db: Database) -> None:
        async def sometimes(job: Job) -> None:
            if not healthy.is_set():
                raise ValueError(f"the receiver said no ({job.attempt})")

        runner = JobRunner(db, {"test.send": sometimes}, **FAST)
        runner.start()
        try:
            job_id = await jobs.submit(db, "test.send", {"to": "bob"}, max_attempts=2)
            assert job_id is not None
            await until(done(db, job_id))
            row = await jobs.get(db, job_id)
            assert (row["state"], row["attempts"]) == ("failed", 2)
            assert row["last_error"] == "ValueError: the receiver said no (2)"
            assert row["finished_at"] and row["locked_by"] is None

            later = await jobs.submit(db, "test.later", {},
                                      run_after=parse("2999-01-01T00:00:00.000000Z"))
            assert later is not None
            with pytest.raises(Conflict, match=f"job {later} is queued: only a failed job"):
                await jobs.retry(db, later)
            with pytest.raises(NotFound):
                await jobs.retry(db, 999_999)

            healthy.set()
            again = await jobs.retry(db, job_id)
            assert (again["state"], again["attempts"], again["finished_at"]) == \
                ("queued", 0, None)
            await until(done(db, job_id))
            row = await jobs.get(db, job_id)
            assert (row["state"], row["attempts"]) == ("done", 1)
        finally:
            await runner.stop()

    with_db(settings, work)


def test_a_job_of_a_kind_without_a_handler_fails_saying_so(settings: Settings) -> None:
    async def work(db: Database) -> None:
        runner = JobRunner(db, {}, **FAST)
        runner.start()
        try:
            job_id = await jobs.submit(db, "test.nobody", {})
            assert job_id is not None
            await until(done(db, job_id))
        finally:
            await runner.stop()
        row = await jobs.get(db, job_id)
        assert (row["state"], row["attempts"]) == ("failed", 1)
        assert row["last_error"] == "no handler for jobs of kind 'test.nobody' in this Tasklette"

    with_db(settings, work)


def test_a_commit_that_enqueues_wakes_the_runner_at_once(settings: Settings) -> None:
    async def work(db: Database) -> float:
        ran = asyncio.Event()

        async def note(job: Job) -> None:
            ran.set()

        runner = JobRunner(db, {"test.note": note}, poll_seconds=30)
        runner.start()
        try:
            await asyncio.sleep(0.2)  # its first look found nothing; the next is in 30 s
            started = time.monotonic()
            async with db.transaction() as tx:
                await jobs.enqueue(tx, "test.note", {})
            await asyncio.wait_for(ran.wait(), 10)
            return time.monotonic() - started
        finally:
            await runner.stop()

    assert with_db(settings, work) < 5


# --- leases ------------------------------------------------------------------------------


def test_only_the_holder_of_the_lease_finishes_a_job(settings: Settings) -> None:
    """A runner whose lease ran out and was taken over changes nothing when it ends."""
    async def work(db: Database) -> None:
        job_id = await jobs.submit(db, "test.slow", {})
        [first] = await job_runner.claim(db, "runner-a", 5, lease_seconds=-1)  # ran out
        [second] = await job_runner.claim(db, "runner-b", 5, lease_seconds=60)
        assert first.id == second.id == job_id and (first.attempt, second.attempt) == (1, 2)
        assert await job_runner.claim(db, "runner-c", 5, lease_seconds=60) == []
        assert not await job_runner.extend_lease(db, first, "runner-a", 60)
        assert not await job_runner.record_done(db, first, "runner-a")
        assert not await job_runner.record_failure(db, first, "runner-a", "late",
                                                   permanent=True, delay=0)
        row = await jobs.get(db, job_id)
        assert (row["state"], row["locked_by"], row["last_error"]) == \
            ("running", "runner-b", None)
        assert await job_runner.record_done(db, second, "runner-b")
        assert await state_of(db, job_id) == "done"

    with_db(settings, work)


def test_a_job_abandoned_on_its_last_attempt_fails(settings: Settings) -> None:
    async def work(db: Database) -> None:
        job_id = await jobs.submit(db, "test.slow", {}, max_attempts=1)
        assert len(await job_runner.claim(db, "dead", 5, lease_seconds=-1)) == 1
        assert await job_runner.claim(db, "alive", 5, lease_seconds=60) == []
        row = await jobs.get(db, job_id)
        assert (row["state"], row["attempts"]) == ("failed", 1)
        assert "lease expired" in row["last_error"]

    with_db(settings, work)


def test_a_long_job_keeps_its_lease_and_runs_once(settings: Settings) -> None:
    async def work(db: Database) -> list[str]:
        other_db = await connect(settings)
        runs: list[str] = []

        def slow(name: str) -> Callable[[Job], Awaitable[None]]:
            async def run(job: Job) -> None:
                runs.append(name)
                await asyncio.sleep(3.0)  # two and a half leases of 1.2 s
            return run

        one = JobRunner(db, {"test.slow": slow("one")}, lease_seconds=1.2, **FAST)
        two = JobRunner(other_db, {"test.slow": slow("two")}, lease_seconds=1.2, **FAST)
        one.start()
        try:
            job_id = await jobs.submit(db, "test.slow", {})
            assert job_id is not None
            await until(lambda: _truthy(runs))
            two.start()
            await until(done(db, job_id))
            assert (await jobs.get(db, job_id))["attempts"] == 1
        finally:
            await one.stop()
            await two.stop()
            await other_db.close()
        return runs

    assert with_db(settings, work) == ["one"]


async def _truthy(value: Any) -> bool:
    return bool(value)


def test_two_runners_on_separate_connections_run_each_of_200_jobs_once(
        settings: Settings) -> None:
    async def work(db: Database) -> dict[str, list[int]]:
        other_db = await connect(settings)
        ran: dict[str, list[int]] = {"one": [], "two": []}

        def record(name: str) -> Callable[[Job], Awaitable[None]]:
            async def run(job: Job) -> None:
                ran[name].append(job.payload["n"])
                await asyncio.sleep(0.005)
            return run

        runners = [JobRunner(conn, {"test.count": record(name)}, concurrency=8, **FAST)
                   for conn, name in ((db, "one"), (other_db, "two"))]
        for runner in runners:
            runner.start()
        try:
            async with db.transaction() as tx:
                for n in range(200):
                    await jobs.enqueue(tx, "test.count", {"n": n}, key=str(n))

            async def all_done() -> bool:
                page = await jobs.list_jobs(db)
                return page.counts["done"] == 200
            await until(all_done, timeout=60)
        finally:
            for runner in runners:
                await runner.stop()
            await other_db.close()
        return ran

    ran = with_db(settings, work)
    assert sorted(ran["one"] + ran["two"]) == list(range(200))  # each once, none twice
    assert ran["one"] and ran["two"]  # both took a share


def test_a_stopping_runner_gives_cut_short_jobs_back(settings: Settings) -> None:
    async def work(db: Database) -> None:
        started = asyncio.Event()

        async def endless(job: Job) -> None:
            started.set()
            await asyncio.sleep(3600)

        runner = JobRunner(db, {"test.endless": endless}, **FAST)
        runner.start()
        job_id = await jobs.submit(db, "test.endless", {})
        assert job_id is not None
        await asyncio.wait_for(started.wait(), 10)
        await runner.stop(grace_seconds=0.1)
        row = await jobs.get(db, job_id)
        assert (row["state"], row["attempts"], row["locked_by"]) == ("queued", 0, None)

    with_db(settings, work)


# --- listing and purging -------------------------------------------------------------


def test_list_pages_and_purge(settings: Settings) -> None:
    async def work(db: Database) -> None:
        ids = [await jobs.submit(db, "test.page", {"n": n}) for n in range(5)]
        [claimed] = await job_runner.claim(db, "runner", 1, lease_seconds=60)
        assert await job_runner.record_done(db, claimed, "runner")

        page = await jobs.list_jobs(db, limit=3)
        assert [row["id"] for row in page.jobs] == ids[:1:-1] and page.next_before == ids[2]
        rest = await jobs.list_jobs(db, before=page.next_before, limit=3)
        assert [row["id"] for row in rest.jobs] == ids[1::-1] and rest.next_before is None
        assert page.counts == {"queued": 4, "running": 0, "done": 1, "failed": 0}
        finished = await jobs.list_jobs(db, "done")
        assert [row["id"] for row in finished.jobs] == [claimed.id]
        with pytest.raises(Invalid, match="no job state 'finished'"):
            await jobs.list_jobs(db, "finished")

        assert await jobs.purge(db, 1) == 0  # finished just now
        assert await jobs.purge(db, 0) == 1
        assert len(await rows(db)) == 4  # queued ones are never purged
        with pytest.raises(Invalid):
            await jobs.purge(db, -1)

    with_db(settings, work)


def test_a_hung_handler_is_stopped_and_its_error_kept_even_with_a_nul(
        settings: Settings) -> None:
    async def work(db: Database) -> None:
        async def hangs(job: Job) -> None:
            await asyncio.sleep(3600)

        async def says_nul(job: Job) -> None:
            raise ValueError("bad\x00byte")

        runner = JobRunner(db, {"test.hangs": hangs, "test.nul": says_nul},
                           timeout_seconds=0.2, **FAST)
        runner.start()
        try:
            hung = await jobs.submit(db, "test.hangs", {}, max_attempts=1)
            nul = await jobs.submit(db, "test.nul", {}, max_attempts=1)
            assert hung is not None and nul is not None
            await until(done(db, hung))
            await until(done(db, nul))
        finally:
            await runner.stop()
        assert (await jobs.get(db, hung))["last_error"] == \
            "JobTimeout: the job ran longer than 0.2 s and was stopped"
        assert (await jobs.get(db, nul))["last_error"] == "ValueError: bad\\x00byte"
        with pytest.raises(Invalid):
            await jobs.submit(db, "test.nul", {}, key="a\x00b")

    with_db(settings, work)


@pytest.mark.parametrize("settings", [b for b in BACKENDS if b == "postgresql"],
                         indirect=True)
def test_a_claim_under_way_is_passed_over_not_waited_for(settings: Settings) -> None:
    """PostgreSQL: while one worker's claim is uncommitted, another claims other jobs at
    once (FOR UPDATE SKIP LOCKED), never the same ones."""
    async def work(db: Database) -> None:
        for n in range(4):
            await jobs.submit(db, "test.skip", {"n": n})
        async with db.transaction() as tx:
            now = now_iso()
            first = await job_store.claim(tx, "one", now, "2999-01-01T00:00:00.000000Z", 2)
            second = await asyncio.wait_for(
                job_runner.claim(db, "two", 4, lease_seconds=60), 5)
            assert len(first) == 2 and len(second) == 2
            assert not {r["id"] for r in first} & {job.id for job in second}

    with_db(settings, work)
