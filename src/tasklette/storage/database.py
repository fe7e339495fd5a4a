"""The engine-neutral database interface that storage modules are written against.

Storage modules write SQL with `?` placeholders in the subset both SQLite and
PostgreSQL accept, and run it through a `Conn`: a read connection from
`Database.reading()` or a write transaction from `Database.transaction()`. An
engine (SQLite now, PostgreSQL later) implements these few methods; services
never see which one they run on.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, Generic, ParamSpec, Protocol, TypeVar

Row = dict[str, Any]
Params = Sequence[Any]


class Conn(Protocol):
    """A connection that runs SQL; inside `transaction()` it is the transaction."""

    dialect: str

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchval(self, sql: str, params: Params = ()) -> Any: ...

    async def fetchtuples(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: for hot paths that need no column names."""
        ...

    async def execute(self, sql: str, params: Params = ()) -> int: ...

    async def executemany(self, sql: str, seq: Iterable[Params]) -> None: ...


class Tx(Conn, Protocol):
    """A write transaction: its changes and events commit together or not at all."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction is durably committed (never if it is not)."""
        ...

    def emit(self, event: Row) -> None:
        """Hand `event` to live subscribers once the transaction is durably committed."""
        ...


class Database(Protocol):
    """An open database: read connections, serialised write transactions."""

    dialect: str

    def reading(self) -> AbstractAsyncContextManager[Conn]:
        """A read of one consistent snapshot. Nested in another `reading()` of the same
        task, it is that one: wrap several service reads in one to read one snapshot
        (but not around writes whose result must be read back)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    async def close(self) -> None: ...

    def set_publisher(self, publish: Callable[[Row], None]) -> None:
        """Where committed events go: the live-update broker."""
        ...


C = TypeVar("C")
_held: ContextVar[tuple[object, object, asyncio.Task[Any] | None] | None] = \
    ContextVar("tasklette_reading", default=None)


class ReadScope(Generic[C]):
    """Which read connection of one database the running task holds, if any."""

    def current(self) -> C | None:
        held = _held.get()
        # Tasks started inside a reading inherit the context, not the connection.
        if held is None or held[0] is not self or held[2] is not asyncio.current_task():
            return None
        return held[1]  # type: ignore[return-value]

    @contextmanager
    def hold(self, conn: C) -> Iterator[None]:
        token = _held.set((self, conn, asyncio.current_task()))
        try:
            yield
        finally:
            _held.reset(token)


class CommitCallbacks:
    """What both engines' transactions keep: work to run once the commit is durable."""

    def __init__(self, publish: Callable[[Row], None]) -> None:
        self._publish = publish
        self.callbacks: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def emit(self, event: Row) -> None:
        publish = self._publish
        self.callbacks.append(lambda: publish(event))


class IntegrityError(Exception):
    """A constraint of the schema refused a change (unique, foreign key, check)."""


class UnstorableText(Exception):
    """Text the database cannot hold: U+0000, which PostgreSQL refuses in any text value."""


class DatabaseUnavailable(Exception):
    """The database cannot serve now (busy, locked, down, no connection free): try later.

    Only these: any other database error is a bug, and must surface as one.
    """


class TransientError(Exception):
    """The transaction was rolled back by a conflict (deadlock, serialisation): retry it."""

    exhausted = False  # set once `retried` has given up: no outer unit tries again


P = ParamSpec("P")
T = TypeVar("T")
ATTEMPTS = 5


def retried(unit: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """`unit` run again, from its start, when a conflict rolled its transaction back.

    The one place where deadlocks and serialisation failures are retried: every service
    function that writes is a unit, so the web UI, the API, the CLI and imports all get
    it, and a retry re-runs only the unit (its arguments already parsed), never the
    reading of a request. A unit holds one transaction, or calls units for the others:
    an inner unit retries itself, and its final failure is not retried again outside,
    so a committed transaction is never run twice. After the last attempt the
    TransientError goes up.
    """
    @functools.wraps(unit)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(ATTEMPTS):
            try:
                return await unit(*args, **kwargs)
            except TransientError as exc:
                if exc.exhausted or attempt == ATTEMPTS - 1:
                    exc.exhausted = True
                    raise
            # Rolled back, nothing saved: wait a little, at random, so the two sides of a
            # deadlock do not meet again at once.
            await asyncio.sleep(random.uniform(0, 0.01 * 2 ** attempt))
        raise AssertionError("unreachable")

    return run


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer Tasklette than this one."""
