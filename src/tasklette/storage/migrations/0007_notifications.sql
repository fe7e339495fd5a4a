-- Watching and in-app notifications.
-- A row in task_watchers is a choice about one task: watching = 1 (by hand, or on
-- creating, being assigned, commenting or being mentioned), or 0 (unwatched by hand:
-- neither those automatic reasons nor a project-level watch bring it back).
CREATE TABLE task_watchers (
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    watching INTEGER NOT NULL CHECK (watching IN (0, 1)),
    created_at TEXT NOT NULL,
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_watchers_user ON task_watchers(user_id);

CREATE TABLE project_watchers (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_watchers_user ON project_watchers(user_id);

-- One notification per recipient per event (a job run twice writes nothing new).
-- `kind`: assigned, mentioned, commented, changed. `detail` is JSON: what changed.
CREATE TABLE notifications (
    id {pk},
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('assigned', 'mentioned', 'commented', 'changed')),
    actor_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    detail {json} NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT,
    UNIQUE (user_id, event_id)
);
-- A user's list, newest change first, is UNIQUE (user_id, event_id)'s index; unread:
CREATE INDEX notifications_unread ON notifications(user_id, event_id) WHERE read_at IS NULL;
CREATE INDEX notifications_task ON notifications(task_id);
CREATE INDEX notifications_event ON notifications(event_id);
