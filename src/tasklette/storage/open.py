"""Opening the configured database: create its directory, migrate, connect."""

from __future__ import annotations

from tasklette.settings import Settings
from tasklette.storage import migrations
from tasklette.storage.database import Database
from tasklette.storage.sqlite import SQLiteDatabase, connect


def migrate(settings: Settings) -> list[int]:
    """Bring the database to the newest schema; return the versions applied."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conn = connect(settings.database_path, synchronous=settings.sqlite_synchronous,
                   busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        return migrations.migrate_sqlite(conn)
    finally:
        conn.close()


def open_database(settings: Settings) -> Database:
    """Migrate, then open the database for serving (must be called inside an event loop)."""
    migrate(settings)
    return SQLiteDatabase(settings.database_path, synchronous=settings.sqlite_synchronous,
                          busy_timeout_ms=settings.sqlite_busy_timeout_ms)
