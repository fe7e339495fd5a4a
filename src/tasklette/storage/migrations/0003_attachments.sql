-- Attachments: files on tasks, their bytes in the content-addressed blob store.
-- A row is written only after its blob is durably in the store; identical bytes are
-- stored once, so several rows may name one sha256 (the index finds who still does).
CREATE TABLE attachments (
    id {pk},
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    uploader_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    filename TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size >= 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    content_type TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX attachments_task ON attachments(task_id, id);
CREATE INDEX attachments_sha256 ON attachments(sha256);
