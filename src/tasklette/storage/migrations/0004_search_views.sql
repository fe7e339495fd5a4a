-- Search, saved views and calendar feeds.

-- A saved view: a list-view filter and sort (its query string, e.g. "label=3&sort=-due")
-- under a name, shared by the members of its project.
CREATE TABLE saved_views (
    id {pk},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, name)
);

-- One iCalendar feed per user, reached by a secret in its URL; only its SHA-256 is stored.
CREATE TABLE calendar_feeds (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Searching by label name (label:bug) across projects; also gives the planner statistics.
CREATE INDEX labels_lower_name ON labels (LOWER(name));

-- Full-text search over a task's title, description and comments, kept in step by
-- triggers in the transaction of every change. Each engine has its own index.

-- dialect: sqlite
-- One FTS5 row per task, rowid = task id. The porter stemmer matches "running" to "run",
-- as PostgreSQL's english configuration does. Prefix indexes of 2 and 3 characters make
-- `dep*` read one list instead of merging one per matching word (measured: a 3-letter
-- prefix over 50,000 tasks went from 130 ms to a few).
CREATE VIRTUAL TABLE task_search USING fts5(
    title, description, comments,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER task_search_task_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_search (rowid, title, description, comments)
    VALUES (NEW.id, NEW.title, NEW.description, '');
END;

CREATE TRIGGER task_search_task_update AFTER UPDATE OF title, description ON tasks BEGIN
    UPDATE task_search SET title = NEW.title, description = NEW.description
    WHERE rowid = NEW.id;
END;

CREATE TRIGGER task_search_task_delete AFTER DELETE ON tasks BEGIN
    DELETE FROM task_search WHERE rowid = OLD.id;
END;

CREATE TRIGGER task_search_comment_insert AFTER INSERT ON comments BEGIN
    UPDATE task_search SET comments = (
        SELECT COALESCE(group_concat(body, char(10)), '')
        FROM (SELECT body FROM comments WHERE task_id = NEW.task_id ORDER BY id))
    WHERE rowid = NEW.task_id;
END;

CREATE TRIGGER task_search_comment_update AFTER UPDATE OF body ON comments BEGIN
    UPDATE task_search SET comments = (
        SELECT COALESCE(group_concat(body, char(10)), '')
        FROM (SELECT body FROM comments WHERE task_id = NEW.task_id ORDER BY id))
    WHERE rowid = NEW.task_id;
END;

CREATE TRIGGER task_search_comment_delete AFTER DELETE ON comments BEGIN
    UPDATE task_search SET comments = (
        SELECT COALESCE(group_concat(body, char(10)), '')
        FROM (SELECT body FROM comments WHERE task_id = OLD.task_id ORDER BY id))
    WHERE rowid = OLD.task_id;
END;

INSERT INTO task_search (rowid, title, description, comments)
SELECT t.id, t.title, t.description, (
    SELECT COALESCE(group_concat(body, char(10)), '')
    FROM (SELECT body FROM comments c WHERE c.task_id = t.id ORDER BY c.id))
FROM tasks t;

-- dialect: postgresql
-- One row per task: its comments' text (titles and descriptions are read from tasks)
-- and a weighted tsvector: title A, description B, comments C.
CREATE TABLE task_search (
    task_id BIGINT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    comments TEXT NOT NULL DEFAULT '',
    document tsvector NOT NULL
);
CREATE INDEX task_search_document ON task_search USING GIN (document);

CREATE FUNCTION task_search_document(title TEXT, description TEXT, comments TEXT)
RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
    SELECT setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, description), 'B')
        || setweight(to_tsvector('english'::regconfig, comments), 'C')
$$;

CREATE FUNCTION task_search_on_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_search (task_id, comments, document)
    VALUES (NEW.id, '', task_search_document(NEW.title, NEW.description, ''))
    ON CONFLICT (task_id) DO UPDATE
    SET document = task_search_document(NEW.title, NEW.description, task_search.comments);
    RETURN NULL;
END
$$;

CREATE TRIGGER task_search_task AFTER INSERT OR UPDATE OF title, description ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_search_on_task();

CREATE FUNCTION task_search_on_comment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target BIGINT;
    all_text TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        target := OLD.task_id;
    ELSE
        target := NEW.task_id;
    END IF;
    SELECT COALESCE(string_agg(body, E'\n' ORDER BY id), '') INTO all_text
    FROM comments WHERE task_id = target;
    UPDATE task_search s
    SET comments = all_text,
        document = task_search_document(t.title, t.description, all_text)
    FROM tasks t WHERE s.task_id = target AND t.id = target;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_search_comment AFTER INSERT OR UPDATE OF body OR DELETE ON comments
    FOR EACH ROW EXECUTE FUNCTION task_search_on_comment();

INSERT INTO task_search (task_id, comments, document)
SELECT t.id, c.all_text, task_search_document(t.title, t.description, c.all_text)
FROM tasks t
CROSS JOIN LATERAL (
    SELECT COALESCE(string_agg(body, E'\n' ORDER BY id), '') AS all_text
    FROM comments WHERE task_id = t.id) c;
