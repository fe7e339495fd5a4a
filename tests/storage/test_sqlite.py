"""The SQLite engine: configuration, migrations, group commit and its failure modes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tasklette.settings import load_settings
from tasklette.storage import migrations
from tasklette.storage.database import IntegrityError, SchemaTooNewError
from tasklette.storage.open import migrate, open_database
from tasklette.storage.sqlite import SQLiteDatabase, connect
from tests.conftest import run_sync


def test_every_connection_is_configured(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    reader = connect(tmp_path / "t.db", read_only=True)
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("CREATE TABLE x (y)")


def test_migrations_apply_once_and_record_the_version(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    assert migrate(settings) == list(range(1, migrations.latest_version() + 1))
    assert migrate(settings) == []
    conn = sqlite3.connect(settings.database_path)
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == \
        migrations.latest_version()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    migrate(settings)
    conn = sqlite3.connect(settings.database_path)
    conn.execute("INSERT INTO schema_version VALUES (999, 'future')")
    conn.commit()
    with pytest.raises(SchemaTooNewError, match="upgrade Tasklette"):
        migrate(settings)


def _db(tmp_path: Path) -> SQLiteDatabase:
    settings = load_settings(data_dir=tmp_path)
    db = open_database(settings)
    assert isinstance(db, SQLiteDatabase)
    return db


async def _insert_user(db: SQLiteDatabase, name: str, fail: bool = False) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO users (username, display_name, password_hash, created_at, "
            "password_changed_at) VALUES (?, ?, 'x', 'now', 'now')", (name, name))
        if fail:
            raise RuntimeError("boom")


def test_group_commit_isolates_a_failing_unit(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        db = _db(tmp_path)
        try:
            return await asyncio.gather(
                *[_insert_user(db, f"u{i}", fail=(i == 3)) for i in range(8)],
                _insert_user(db, "u1"),  # duplicate: refused by the unique index
                return_exceptions=True)
        finally:
            await db.close()

    results = run_sync(main())
    assert isinstance(results[3], RuntimeError)
    assert isinstance(results[8], IntegrityError)
    assert [r for i, r in enumerate(results) if i not in (3, 8)] == [None] * 7
    conn = sqlite3.connect(tmp_path / "tasklette.db")
    names = sorted(row[0] for row in conn.execute("SELECT username FROM users"))
    assert names == ["u0", "u1", "u2", "u4", "u5", "u6", "u7"]


def test_events_are_published_only_after_commit(tmp_path: Path) -> None:
    published: list[tuple[int, bool]] = []

    async def main() -> None:
        db = _db(tmp_path)
        path = tmp_path / "tasklette.db"

        def publish(event: dict[str, Any]) -> None:
            # A fresh connection sees the event row only once it is committed.
            conn = sqlite3.connect(path)
            seen = conn.execute("SELECT 1 FROM events WHERE id = ?", (event["id"],)).fetchone()
            published.append((event["id"], seen is not None))

        db.set_publisher(publish)
        from tasklette.storage import events

        async def write(fail: bool) -> None:
            async with db.transaction() as tx:
                await events.append(tx, 1, None, "test.event", "test", 1, {"fail": fail})
                if fail:
                    raise RuntimeError("rolled back")

        await asyncio.gather(write(False), write(True), write(False), return_exceptions=True)
        await db.close()

    run_sync(main())
    assert [seen for _, seen in published] == [True, True]
    assert published[0][0] < published[1][0]


def test_reads_see_writes_once_acknowledged(tmp_path: Path) -> None:
    async def main() -> int:
        db = _db(tmp_path)
        await asyncio.gather(*[_insert_user(db, f"r{i}") for i in range(20)])
        async with db.reading() as conn:
            count = await conn.fetchval("SELECT COUNT(*) FROM users")
        await db.close()
        return int(count)

    assert run_sync(main()) == 20


def test_the_wal_stays_small_under_steady_writes(tmp_path: Path) -> None:
    """Checkpoints run beside the writer, yet the WAL still starts over from its beginning
    (under steady writes it would otherwise grow for as long as they last)."""
    async def main() -> int:
        db = _db(tmp_path)
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE scratch (body BLOB)")
        writers = asyncio.Semaphore(20)  # one batch always waits while another commits
        await asyncio.gather(*[_write_scratch(db, writers) for _ in range(800)])
        size = (tmp_path / "tasklette.db-wal").stat().st_size
        await db.close()
        return size

    async def _write_scratch(db: SQLiteDatabase, writers: asyncio.Semaphore) -> None:
        async with writers, db.transaction() as tx:
            await tx.execute("INSERT INTO scratch (body) VALUES (randomblob(16000))")

    def checkpointers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "tasklette-checkpoint"}

    others = checkpointers()  # those of databases other tests (a server fixture) hold open
    assert run_sync(main()) < 3000 * 4096
    assert checkpointers() == others  # this database's checkpointer stopped with it
