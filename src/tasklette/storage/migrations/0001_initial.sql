-- Tasklette schema, version 1.
-- Portable SQL: {pk} and {json} are filled in per engine by storage.migrations.
-- Times are ISO 8601 UTC text ("2026-11-23T10:00:00.000000Z"), dates are "YYYY-MM-DD":
-- both sort correctly as text on every engine.

CREATE TABLE users (
    id {pk},
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id {pk},
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE projects (
    id {pk},
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    archived INTEGER NOT NULL DEFAULT 0,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE project_members (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members(user_id);

CREATE TABLE columns (
    id {pk},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX columns_project ON columns(project_id, position);

-- rank orders a task among its siblings: top-level tasks within their column,
-- subtasks within their parent (the CHECK gives every task exactly one of the two).
-- Ranks are sparse so a move usually touches one row; the unique indexes make
-- duplicate places impossible whatever the writers do (NULLs never collide).
CREATE TABLE tasks (
    id {pk},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    column_id BIGINT REFERENCES columns(id),
    parent_task_id BIGINT REFERENCES tasks(id) ON DELETE CASCADE,
    rank BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 0,
    start_date TEXT,
    due_date TEXT,
    completed INTEGER NOT NULL DEFAULT 0,
    completed_at TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    updated_at TEXT NOT NULL,
    CHECK ((parent_task_id IS NULL) <> (column_id IS NULL))
);
CREATE UNIQUE INDEX tasks_column_rank ON tasks(column_id, rank);
CREATE UNIQUE INDEX tasks_parent_rank ON tasks(parent_task_id, rank);
CREATE INDEX tasks_project ON tasks(project_id, id);
CREATE INDEX tasks_project_due ON tasks(project_id, due_date);

CREATE TABLE labels (
    id {pk},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE task_labels (
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    label_id BIGINT NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, label_id)
);
CREATE INDEX task_labels_label ON task_labels(label_id);

CREATE TABLE task_assignees (
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_assignees_user ON task_assignees(user_id);

CREATE TABLE comments (
    id {pk},
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    author_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    edited_at TEXT
);
CREATE INDEX comments_task ON comments(task_id, id);

-- Append-only. project_id is deliberately not a foreign key: the log outlives what it
-- describes, and ids are never reused, so a deleted project's events reach nobody.
CREATE TABLE events (
    id {pk},
    project_id BIGINT,
    actor_id BIGINT,
    kind TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    task_id BIGINT,
    payload {json} NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX events_project ON events(project_id, id);
CREATE INDEX events_task ON events(task_id, id) WHERE task_id IS NOT NULL;
