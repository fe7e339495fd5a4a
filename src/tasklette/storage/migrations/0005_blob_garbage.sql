-- Files that may have lost their last attachment, and the record of their removal.
-- A deletion of attachments (or of the tasks and projects holding them) names their
-- digests here, `since` then, in its own transaction; a sweeper removes each file once
-- the grace period (for downloads under way) has passed, if no attachment names it.
-- `removing_since` marks a removal under way (uploads of those bytes wait for it);
-- `removals` counts finished ones, so an upload can tell that its file was removed
-- between putting it and recording it.
CREATE TABLE blob_garbage (
    sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    since TEXT,
    removing_since TEXT,
    removals BIGINT NOT NULL DEFAULT 0,
    removed_at TEXT
);
CREATE INDEX blob_garbage_since ON blob_garbage(since);
