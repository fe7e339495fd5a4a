"""The PostgreSQL engine: a pool of asyncpg connections, one transaction per unit of work.

Storage modules write `?` placeholders; they become `$1, $2, …` here (once per
statement text, cached). Concurrent writers are kept consistent by row locks the
storage modules take where order matters (`projects.lock`, `columns.lock`,
`tasks.lock`), and by the same unique indexes as on SQLite. A deadlock or a
serialisation failure becomes TransientError, which `storage.database.retried`
retries around each service's unit of work.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Any

import asyncpg

from tasklette.numbers import int_or_none
from tasklette.storage.database import (
    CommitCallbacks,
    DatabaseUnavailable,
    IntegrityError,
    Params,
    ReadScope,
    Row,
    TransientError,
    UnstorableText,
)

_TRANSIENT = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
# The server is down, restarting, out of connection slots, or dropped this connection.
_UNAVAILABLE = (asyncpg.PostgresConnectionError, asyncpg.TooManyConnectionsError,
                asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
                asyncpg.CrashShutdownError)


@lru_cache(maxsize=2048)
def to_numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$n` (question marks inside quotes are kept)."""
    parts = re.split(r"('(?:[^']|'')*')", sql)
    counter = 0
    for i in range(0, len(parts), 2):
        def number(_: re.Match[str]) -> str:
            nonlocal counter
            counter += 1
            return f"${counter}"
        parts[i] = re.sub(r"\?", number, parts[i])
    return "".join(parts)


@contextmanager
def _translated() -> Iterator[None]:
    """The engine-neutral errors for what asyncpg raises."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(str(exc)) from exc
    except _TRANSIENT as exc:
        raise TransientError(str(exc)) from exc
    except asyncpg.CharacterNotInRepertoireError as exc:
        raise UnstorableText(str(exc)) from exc
    except _UNAVAILABLE as exc:
        raise DatabaseUnavailable(f"the database server cannot be used: {exc}") from exc
    except asyncpg.InterfaceError as exc:
        if "connection is closed" not in str(exc):
            raise  # a misuse of the connection: a bug, not an outage
        raise DatabaseUnavailable(f"the database connection was lost: {exc}") from exc


@asynccontextmanager
async def _acquired(pool: asyncpg.Pool, timeout: float) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the pool; DatabaseUnavailable when none comes within `timeout`."""
    try:
        with _translated():
            conn = await pool.acquire(timeout=timeout)
    except (TimeoutError, OSError) as exc:  # refused, unreachable, pool exhausted
        raise DatabaseUnavailable(f"no database connection within {timeout:g} s: "
                                  f"{type(exc).__name__} {exc}") from exc
    try:
        yield conn
    finally:
        await pool.release(conn)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection going back to the pool needs beyond asyncpg's rollback: nothing.

    Tasklette changes no session state (no SET, LISTEN, cursors or session advisory
    locks: its advisory locks are transaction-scoped), so asyncpg's default reset
    query would be one more round trip per checkout for nothing.
    """


class PostgresConn:
    """Runs SQL on one pooled connection; constraint violations become IntegrityError."""

    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        with _translated():
            row = await self._conn.fetchrow(to_numbered(sql), *params)
        return None if row is None else dict(row)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with _translated():
            rows = await self._conn.fetch(to_numbered(sql), *params)
        return [dict(row) for row in rows]

    async def fetchtuples(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with _translated():
            rows = await self._conn.fetch(to_numbered(sql), *params)
        return [tuple(row) for row in rows]

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        with _translated():
            return await self._conn.fetchval(to_numbered(sql), *params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        with _translated():
            status = await self._conn.execute(to_numbered(sql), *params)
        count = status.rsplit(" ", 1)[-1]
        return int_or_none(count) or 0

    async def executemany(self, sql: str, seq: Iterable[Params]) -> None:
        with _translated():
            await self._conn.executemany(to_numbered(sql), [tuple(p) for p in seq])


class PostgresTx(PostgresConn, CommitCallbacks):
    """One transaction on one pooled connection."""

    def __init__(self, conn: asyncpg.Connection, publish: Callable[[Row], None]) -> None:
        PostgresConn.__init__(self, conn)
        CommitCallbacks.__init__(self, publish)


class PostgresDatabase:
    """A Tasklette database on a PostgreSQL server."""

    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float = 10.0) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._publish: Callable[[Row], None] = lambda event: None
        self._reading: ReadScope[PostgresConn] = ReadScope()

    @classmethod
    async def open(cls, url: str, *, min_size: int = 2, max_size: int = 20,
                   acquire_timeout: float = 10.0) -> PostgresDatabase:
        pool = await asyncpg.create_pool(url, min_size=min(min_size, max_size),
                                         max_size=max_size, reset=_keep_session)
        assert pool is not None
        return cls(pool, acquire_timeout)

    def set_publisher(self, publish: Callable[[Row], None]) -> None:
        self._publish = publish

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[PostgresConn]:
        """One REPEATABLE READ, READ ONLY transaction: all its queries see one snapshot."""
        held = self._reading.current()
        if held is not None:
            yield held
            return
        async with _acquired(self._pool, self._acquire_timeout) as raw:
            conn = PostgresConn(raw)
            with _translated():
                async with raw.transaction(isolation="repeatable_read", readonly=True):
                    with self._reading.hold(conn):
                        yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTx]:
        async with _acquired(self._pool, self._acquire_timeout) as conn:
            tx = PostgresTx(conn, self._publish)
            with _translated():  # COMMIT can fail too
                async with conn.transaction():
                    yield tx
        for callback in tx.callbacks:
            callback()

    async def close(self) -> None:
        await self._pool.close()
