-- Durable jobs: slow work a change causes (notifications, e-mail, webhooks, previews),
-- written in the same transaction as the change (an outbox) and run by workers after
-- commit. `key` makes an enqueue idempotent per kind (NULL keys are all distinct).
-- Times are ISO 8601 UTC text, as everywhere. A running job belongs to the worker named
-- in `locked_by` until `locked_until`; after that any worker may take it over, and only
-- the holder of the current lease (locked_by and attempts match) may finish it.
CREATE TABLE jobs (
    id {pk},
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    key TEXT,
    payload {json} NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_after TEXT NOT NULL,
    locked_until TEXT,
    locked_by TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (kind, key)
);
-- Claiming: due queued jobs, and running ones whose lease has run out, in order. Only
-- those rows are in these indexes; `state` leads them so that SQLite, without
-- statistics, prefers them to jobs_by_state (and needs no sort).
CREATE INDEX jobs_due ON jobs(state, run_after, id) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs(state, locked_until, id) WHERE state = 'running';
-- The admin page and `tasklette jobs list` (by state, newest first); purging old ones.
CREATE INDEX jobs_by_state ON jobs(state, id);
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE state IN ('done', 'failed');
