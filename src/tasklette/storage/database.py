"""The engine-neutral database interface that storage modules are written against.

Storage modules write SQL with `?` placeholders in the subset both SQLite and
PostgreSQL accept, and run it through a `Conn`: a read connection from
`Database.reading()` or a write transaction from `Database.transaction()`. An
engine (SQLite now, PostgreSQL later) implements these few methods; services
never see which one they run on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

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

    def reading(self) -> AbstractAsyncContextManager[Conn]: ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    async def close(self) -> None: ...

    def set_publisher(self, publish: Callable[[Row], None]) -> None:
        """Where committed events go: the live-update broker."""
        ...


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


class DatabaseUnavailable(Exception):
    """The database cannot serve now (busy, locked, down, no connection free): try later.

    Only these: any other database error is a bug, and must surface as one.
    """


class TransientError(Exception):
    """The transaction was rolled back by a conflict (deadlock, serialisation): retry it."""


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer Tasklette than this one."""
