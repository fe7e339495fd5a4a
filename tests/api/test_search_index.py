"""The search index's schema: dialect sections in migrations, statements with bodies, and
an upgrade that indexes the tasks a database already has (on both engines)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tasklette.storage import migrations
from tasklette.storage.sqlite import connect
from tests.conftest import POSTGRES_URL, _admin, run_sync

SCRIPT = """
CREATE TABLE a (id {pk}, note TEXT DEFAULT 'x; y');
-- dialect: sqlite
CREATE TRIGGER t AFTER INSERT ON a BEGIN
    UPDATE a SET note = CASE WHEN NEW.id > 1 THEN 'many; more' ELSE 'one' END;
END;
-- dialect: postgresql
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NULL;
END
$$;
-- dialect: all
CREATE INDEX a_note ON a(note);
"""


def test_dialect_sections_and_statement_bodies() -> None:
    migration = migrations.Migration(99, "try", SCRIPT)
    sqlite = migrations._split_statements(migration.render("sqlite"))
    postgres = migrations._split_statements(migration.render("postgresql"))
    assert [s.split()[1] for s in sqlite] == ["TABLE", "TRIGGER", "INDEX"]
    assert [s.split()[1] for s in postgres] == ["TABLE", "FUNCTION", "INDEX"]
    assert sqlite[0].startswith("CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT")
    assert sqlite[1].endswith("END")  # the `;` inside the trigger body did not split it
    assert postgres[1].endswith("$$")
    with pytest.raises(RuntimeError, match="unknown dialect 'oracle'"):
        migrations.Migration(99, "x", "-- dialect: oracle\nSELECT 1;").render("sqlite")


def _sql_before_search(dialect: str) -> list[str]:
    statements = []
    for migration in migrations.all_migrations()[:3]:
        statements += migrations._split_statements(migration.render(dialect))
    return statements


SEED = [
    "INSERT INTO users (username, display_name, password_hash, created_at, "
    "password_changed_at) VALUES ('u', 'u', 'x', 't', 't')",
    "INSERT INTO projects (name, created_at, updated_at) VALUES ('p', 't', 't')",
    "INSERT INTO columns (project_id, name, position, created_at) VALUES (1, 'c', 0, 't')",
    "INSERT INTO tasks (project_id, column_id, rank, title, description, created_at, "
    "updated_at) VALUES (1, 1, 1024, 'Older task', 'made before search existed', 't', 't')",
    "INSERT INTO comments (task_id, author_id, body, created_at) "
    "VALUES (1, 1, 'an aardvark', 't')",
]


def test_upgrade_indexes_existing_tasks_sqlite(tmp_path: Path) -> None:
    conn = connect(tmp_path / "old.db")
    try:
        migrations.sqlite_version(conn)
        for statement in _sql_before_search("sqlite") + SEED:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (3, 't')")
        assert migrations.migrate_sqlite(conn) == list(
            range(4, migrations.latest_version() + 1))
        found = conn.execute("SELECT rowid FROM task_search WHERE task_search MATCH "
                             "'aardvark'").fetchall()
        assert found == [(1,)]
    finally:
        conn.close()


@pytest.mark.skipif(not POSTGRES_URL, reason="TASKLETTE_TEST_POSTGRES_URL is not set")
def test_upgrade_indexes_existing_tasks_postgres() -> None:
    name = f"tasklette_upgrade_{os.getpid()}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))

    async def upgrade() -> Any:
        conn = await asyncpg.connect(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
        try:
            await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, "
                               "applied_at TEXT NOT NULL)")
            for statement in _sql_before_search("postgresql") + SEED:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version VALUES (3, 't')")
            await migrations.migrate_postgres(conn)
            return await conn.fetch("SELECT task_id FROM task_search WHERE document @@ "
                                    "plainto_tsquery('english', 'aardvark')")
        finally:
            await conn.close()

    try:
        rows = run_sync(upgrade())
        assert [row["task_id"] for row in rows] == [1]
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
