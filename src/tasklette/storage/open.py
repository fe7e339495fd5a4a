"""Opening the configured database: create it or bring it up to date, then connect."""

from __future__ import annotations

from collections.abc import Callable

from tasklette.settings import Settings
from tasklette.storage import migrations
from tasklette.storage.database import Database
from tasklette.storage.sqlite import SQLiteDatabase, claim_for_server
from tasklette.storage.sqlite import connect as sqlite_connect


def uses_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith(("postgresql://", "postgres://"))


def claim_server(settings: Settings) -> Callable[[], None]:
    """A server's claim on a SQLite database (ServerAlreadyRunning if another holds it);
    on PostgreSQL any number of servers share one, so nothing is claimed."""
    if uses_postgres(settings):
        return lambda: None
    return claim_for_server(settings.database_path)


def migrate(settings: Settings) -> list[int]:
    """Bring a SQLite database to the newest schema; return the versions applied."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite_connect(settings.database_path, synchronous=settings.sqlite_synchronous,
                          busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        return migrations.migrate_sqlite(conn)
    finally:
        conn.close()


async def migrate_any(settings: Settings) -> list[int]:
    """Bring the configured database (SQLite or PostgreSQL) to the newest schema."""
    if not uses_postgres(settings):
        return migrate(settings)
    import asyncpg  # only a server on PostgreSQL loads its driver

    conn = await asyncpg.connect(settings.database_url)
    try:
        return await migrations.migrate_postgres(conn)
    finally:
        await conn.close()


def open_database(settings: Settings) -> SQLiteDatabase:
    """Migrate, then open a SQLite database (call inside an event loop)."""
    migrate(settings)
    return SQLiteDatabase(settings.database_path, synchronous=settings.sqlite_synchronous,
                          busy_timeout_ms=settings.sqlite_busy_timeout_ms)


async def connect(settings: Settings) -> Database:
    """Migrate, then open the configured database: PostgreSQL for a postgresql:// URL."""
    if not uses_postgres(settings):
        return open_database(settings)
    await migrate_any(settings)
    from tasklette.storage.postgres import PostgresDatabase

    return await PostgresDatabase.open(
        settings.database_url, max_size=settings.database_pool_size,
        acquire_timeout=settings.database_acquire_timeout_ms / 1000)


async def schema_version(db: Database) -> int:
    """The schema version the open database records (a cheap query: readiness checks)."""
    async with db.reading() as conn:
        return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
