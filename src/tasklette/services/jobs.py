"""The durable job queue: enqueue in a change's transaction; list, retry and purge jobs.

`enqueue` writes a job in the caller's transaction, so the job exists exactly when
the change that causes it was committed (an outbox); a job of the same kind and key
as an existing one is not written again. Once the transaction commits, this
process's runners are woken at once (others find the job at their next poll).
Running jobs is `services.job_runner`'s work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tasklette.clock import now_iso
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.wakers import Wakers
from tasklette.storage import jobs as store
from tasklette.storage.database import Database, Row, Tx, retried

STATES = store.STATES
DEFAULT_MAX_ATTEMPTS = 10
MAX_KEY_LENGTH = 200
PAGE_SIZE = 50


def iso(moment: datetime) -> str:
    """A moment as stored: ISO 8601 UTC text that sorts correctly."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- waking this process's runners -------------------------------------------------------
# A process-wide list, not app state: `enqueue` gets only a transaction, and what it
# wakes is "the runners of this process", whichever database or app they serve (a
# runner woken for another database's job just finds nothing due).

_wakers = Wakers()
add_waker = _wakers.add  # `wake` is called (from any thread) after each such commit
remove_waker = _wakers.remove
_wake_runners = _wakers.wake


# --- enqueueing ----------------------------------------------------------------------


async def enqueue(tx: Tx, kind: str, payload: dict[str, Any], *, key: str | None = None,
                  run_after: datetime | None = None,
                  max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> int | None:
    """Write a job in `tx`; its id, or None when a job of this kind and key exists.

    It runs once `tx` commits (not at all if it rolls back), at `run_after` or at once.
    `payload` must be JSON; a handler may get a job more than once (after a crash),
    and is given the job's id and key to tell.
    """
    text = _checked(kind, payload, key, max_attempts)
    now = now_iso()
    job_id = await store.insert(tx, kind, key, text, iso(run_after) if run_after else now,
                                max_attempts, now)
    if job_id is not None:
        tx.after_commit(_wake_runners)  # each runner takes one wake however many come
    return job_id


async def enqueue_many(tx: Tx, kind: str, items: Iterable[tuple[dict[str, Any], str | None]],
                       *, run_after: datetime | None = None,
                       max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
    """`enqueue` for many (payload, key) pairs of one kind at once: a fan-out. Much faster
    on PostgreSQL (one round trip); pairs whose key is taken are left out."""
    now = now_iso()
    due = iso(run_after) if run_after else now
    rows = [(kind, key, _checked(kind, payload, key, max_attempts), due, max_attempts, now)
            for payload, key in items]
    if rows:
        await store.insert_many(tx, rows)
        tx.after_commit(_wake_runners)


def _checked(kind: str, payload: dict[str, Any], key: str | None, max_attempts: int) -> str:
    """The payload as JSON text, once the job is known to be storable; Invalid if not."""
    if not kind or len(kind) > 100 or "\x00" in kind:
        raise Invalid("a job's kind is 1 to 100 characters, without U+0000", field="kind")
    if key is not None and (not 1 <= len(key) <= MAX_KEY_LENGTH or "\x00" in key):
        raise Invalid(f"a job's key is 1 to {MAX_KEY_LENGTH} characters, without U+0000",
                      field="key")
    if max_attempts < 1:
        raise Invalid("a job needs at least one attempt", field="max_attempts")
    try:
        return orjson.dumps(payload).decode()
    except TypeError as exc:
        raise Invalid(f"a job's payload must be JSON: {exc}", field="payload") from None


@retried
async def submit(db: Database, kind: str, payload: dict[str, Any], *, key: str | None = None,
                 run_after: datetime | None = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> int | None:
    """`enqueue` in a transaction of its own (work not caused by a change of rows)."""
    async with db.transaction() as tx:
        return await enqueue(tx, kind, payload, key=key, run_after=run_after,
                             max_attempts=max_attempts)


# --- looking at jobs, and acting on them ---------------------------------------------


@dataclass(frozen=True)
class JobPage:
    """One page of jobs, newest first; `next_before` asks for the page after it."""

    jobs: list[Row]
    next_before: int | None
    counts: dict[str, int]


def check_state(state: str | None) -> str | None:
    """`state` if it names one (None or empty: all); Invalid otherwise."""
    if not state:
        return None
    if state not in STATES:
        raise Invalid(f"there is no job state {state[:40]!r}: use one of "
                      f"{', '.join(STATES)}", field="state")
    return state


async def list_jobs(db: Database, state: str | None = None, before: int | None = None,
                    limit: int = PAGE_SIZE) -> JobPage:
    """Jobs newest first, of one state or all, with how many are in each state."""
    state = check_state(state)
    async with db.reading() as conn:
        rows = await store.page(conn, state, before, limit + 1)
        counts = await store.counts(conn)
    more = len(rows) > limit
    rows = rows[:limit]
    return JobPage(rows, int(rows[-1]["id"]) if more else None, counts)


async def get(db: Database, job_id: int) -> Row:
    async with db.reading() as conn:
        row = await store.get(conn, job_id)
    if row is None:
        raise NotFound(f"there is no job {job_id}")
    return row


@retried
async def retry(db: Database, job_id: int) -> Row:
    """Queue a failed job again, to run now with all its attempts; Conflict unless failed."""
    async with db.transaction() as tx:
        row = await store.retry(tx, job_id, now_iso())
        if row is None:
            current = await store.get(tx, job_id)
            if current is None:
                raise NotFound(f"there is no job {job_id}")
            raise Conflict(f"job {job_id} is {current['state']}: only a failed job can be "
                           "retried")
        tx.after_commit(_wake_runners)
    return row


@retried
async def purge(db: Database, older_than_days: int) -> int:
    """Delete done and failed jobs that finished more than `older_than_days` ago."""
    if older_than_days < 0:
        raise Invalid("the age is a number of days, 0 or more", field="older_than_days")
    cutoff = iso(datetime.now(UTC) - timedelta(days=older_than_days))
    async with db.transaction() as tx:
        return await store.purge(tx, cutoff)
