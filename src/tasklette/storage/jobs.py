"""Jobs: the durable queue of slow work a change causes, and the leases of its workers.

A job is inserted in the transaction of the change that causes it (an outbox). A
worker claims due jobs (queued ones whose `run_after` has come, running ones whose
lease ran out) by setting its name in `locked_by`, a lease end in `locked_until`, and
counting the attempt; the pair (locked_by, attempts) is the lease's fence: lease
extensions and outcomes match on it, so a worker whose lease was taken over changes
nothing. On PostgreSQL the claim skips rows another worker is claiming (`FOR UPDATE
SKIP LOCKED`); on SQLite the one writer serialises claims.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasklette.storage.database import Conn, Row, Tx

STATES = ("queued", "running", "done", "failed")
COLUMNS = ("id, kind, key, payload, state, attempts, max_attempts, run_after, locked_until, "
           "locked_by, last_error, created_at, updated_at, finished_at")
CLAIMED = "id, kind, key, payload, attempts, max_attempts, locked_by"


async def insert(tx: Tx, kind: str, key: str | None, payload: str, run_after: str,
                 max_attempts: int, now: str) -> int | None:
    """A new queued job's id; None when a job of this kind and key exists (no change)."""
    value = await tx.fetchval(
        "INSERT INTO jobs (kind, key, payload, state, attempts, max_attempts, run_after, "
        "created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?) "
        "ON CONFLICT (kind, key) DO NOTHING RETURNING id",
        (kind, key, payload, max_attempts, run_after, now, now))
    return None if value is None else int(value)


async def insert_many(tx: Tx, rows: Sequence[tuple[str, str | None, str, str, int, str]]
                      ) -> None:
    """Queued jobs from (kind, key, payload, run_after, max_attempts, now) rows, in one
    round trip where the driver can; rows whose kind and key exist are left out."""
    await tx.executemany(
        "INSERT INTO jobs (kind, key, payload, state, attempts, max_attempts, run_after, "
        "created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?) "
        "ON CONFLICT (kind, key) DO NOTHING",
        [(kind, key, payload, attempts, run_after, now, now)
         for kind, key, payload, run_after, attempts, now in rows])


async def get(conn: Conn, job_id: int) -> Row | None:
    return await conn.fetchone(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,))


async def page(conn: Conn, state: str | None, before_id: int | None, limit: int) -> list[Row]:
    """Jobs newest first (of one state, when given), older than `before_id` if given."""
    where: list[str] = []
    params: list[object] = []
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if before_id is not None:
        where.append("id < ?")
        params.append(before_id)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return await conn.fetchall(
        f"SELECT {COLUMNS} FROM jobs {clause}ORDER BY id DESC LIMIT ?", (*params, limit))


async def counts(conn: Conn) -> dict[str, int]:
    """How many jobs are in each state (every state named, zero included)."""
    rows = await conn.fetchtuples("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    found = {str(state): int(count) for state, count in rows}
    return {state: found.get(state, 0) for state in STATES}


async def any_due(conn: Conn, now: str) -> bool:
    """Whether a claim now would find a job: a cheap read, so that an idle runner's poll
    opens no write transaction."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND run_after <= ?) "
        "OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND locked_until < ?)",
        (now, now)))


async def fail_abandoned(tx: Tx, now: str) -> int:
    """Running jobs whose lease ran out on their last allowed attempt: failed (their
    worker died or hung), rather than run beyond `max_attempts`."""
    return await tx.execute(
        "UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, "
        "locked_by = NULL, locked_until = NULL, last_error = COALESCE(last_error || ' / ', "
        "'') || 'its worker stopped answering (lease expired) on the last attempt' "
        "WHERE state = 'running' AND locked_until < ? AND attempts >= max_attempts",
        (now, now, now))


async def claim(tx: Tx, worker: str, now: str, lease_until: str, limit: int) -> list[Row]:
    """Take up to `limit` due jobs for `worker` until `lease_until`: running, one more
    attempt counted. Jobs whose lease ran out come first, then queued ones by due time."""
    # PostgreSQL: rows another worker is claiming at this moment are passed over, not
    # waited for, so two workers never take one job and never queue behind each other.
    # The pick is a CTE: one holding FOR UPDATE is evaluated once, whatever the plan.
    lock = " FOR UPDATE SKIP LOCKED" if tx.dialect == "postgresql" else ""
    picks = (
        "SELECT id FROM jobs WHERE state = 'running' AND locked_until < ? "
        f"ORDER BY locked_until, id LIMIT ?{lock}",
        "SELECT id FROM jobs WHERE state = 'queued' AND run_after <= ? "
        f"ORDER BY run_after, id LIMIT ?{lock}",
    )
    claimed: list[Row] = []
    for pick in picks:
        left = limit - len(claimed)
        if left <= 0:
            break
        claimed += await tx.fetchall(
            f"WITH picked AS ({pick}) UPDATE jobs SET state = 'running', "
            "attempts = attempts + 1, locked_by = ?, locked_until = ?, updated_at = ? "
            f"WHERE id IN (SELECT id FROM picked) RETURNING {CLAIMED}",
            (now, left, worker, lease_until, now))
    claimed.sort(key=lambda row: int(row["id"]))
    return claimed


async def extend(tx: Tx, job_id: int, worker: str, attempt: int, lease_until: str,
                 now: str) -> bool:
    """Push the lease's end out; False when this worker no longer holds the lease."""
    return await tx.execute(
        "UPDATE jobs SET locked_until = ?, updated_at = ? WHERE id = ? AND state = 'running' "
        "AND locked_by = ? AND attempts = ?",
        (lease_until, now, job_id, worker, attempt)) == 1


_FENCE = "WHERE id = ? AND state = 'running' AND locked_by = ? AND attempts = ?"


async def finish(tx: Tx, job_id: int, worker: str, attempt: int, now: str) -> bool:
    """Done; False when this worker no longer holds the lease (nothing changed)."""
    return await tx.execute(
        "UPDATE jobs SET state = 'done', finished_at = ?, updated_at = ?, locked_by = NULL, "
        f"locked_until = NULL {_FENCE}", (now, now, job_id, worker, attempt)) == 1


async def requeue(tx: Tx, job_id: int, worker: str, attempt: int, error: str | None,
                  run_after: str, now: str, *, uncount: bool = False) -> bool:
    """Queued again from `run_after`, with `error` kept (or the last one, for None);
    `uncount` gives the attempt back (it was cut short by a shutdown, not a failure)."""
    attempts = "attempts - 1" if uncount else "attempts"
    return await tx.execute(
        f"UPDATE jobs SET state = 'queued', attempts = {attempts}, run_after = ?, "
        "last_error = COALESCE(?, last_error), updated_at = ?, locked_by = NULL, "
        f"locked_until = NULL {_FENCE}",
        (run_after, error, now, job_id, worker, attempt)) == 1


async def fail(tx: Tx, job_id: int, worker: str, attempt: int, error: str, now: str) -> bool:
    """Failed for good (until retried by hand)."""
    return await tx.execute(
        "UPDATE jobs SET state = 'failed', last_error = ?, finished_at = ?, updated_at = ?, "
        f"locked_by = NULL, locked_until = NULL {_FENCE}",
        (error, now, now, job_id, worker, attempt)) == 1


async def retry(tx: Tx, job_id: int, now: str) -> Row | None:
    """A failed job queued again now, with all its attempts; None unless it was failed."""
    return await tx.fetchone(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_after = ?, updated_at = ?, "
        "finished_at = NULL WHERE id = ? AND state = 'failed' "
        f"RETURNING {COLUMNS}", (now, now, job_id))


async def purge(tx: Tx, finished_before: str) -> int:
    """Delete done and failed jobs finished before then; how many."""
    return await tx.execute(
        "DELETE FROM jobs WHERE state IN ('done', 'failed') AND finished_at < ?",
        (finished_before,))
