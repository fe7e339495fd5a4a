"""The SQLite engine: one writer with group commit, a separate read connection.

Every connection is opened by `connect()`, the one place where pragmas are set.

Writes: one write connection per process. A unit of work (`transaction()`) runs
inside a SAVEPOINT of the current batch transaction, so a failing unit is rolled
back alone. Units that arrive while a COMMIT is being fsynced join the next
batch, and each unit is acknowledged only after the COMMIT holding it is durable:
with `synchronous=FULL` every acknowledged write survives a power cut, yet the
fsync is paid once per batch rather than once per request (group commit).
BEGIN IMMEDIATE and COMMIT, the two statements that can wait on the disk or on
another process, run in a worker thread; the statements of a unit run inline on
the event loop, because against pages in memory they take microseconds and a
thread hop would cost more than the work.

Checkpoints: SQLite copies committed WAL pages into the database file in a
checkpoint. Left to itself it runs one inside the COMMIT that takes the WAL past
1,000 pages, and that commit then writes and fsyncs the whole backlog while every
unit of the next batch waits (10-20 ms: the tail of write latency). A thread of
its own (`_Checkpointer`) copies the pages beside the writer instead, after each
commit, on a connection of its own; a PASSIVE checkpoint waits for no reader or
writer. SQLite's own checkpoint still runs in the writer's COMMIT (only it can let
the WAL start over from its beginning) but finds little left to copy. Durability
is unchanged: a unit is acknowledged once the COMMIT holding it has fsynced its WAL
pages; a checkpoint only copies durable pages, and fsyncs the database file before
the WAL is reused.

Reads: a small pool of read-only connections. Each `reading()` takes one and holds
one read transaction on it, so every query of the read sees the same committed state
even when the writer's COMMIT (in its thread) lands between two of them. WAL lets
readers see the last committed state while the writer works. A `reading()` inside
another one, in the same task, shares it: a request that calls several services
within one `reading()` reads one snapshot.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasklette.storage.database import (
    CommitCallbacks,
    DatabaseUnavailable,
    IntegrityError,
    Params,
    ReadScope,
    Row,
)

MAX_READERS = 8  # read connections a process opens at most

log = logging.getLogger("tasklette.storage")

_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_BUSY_MESSAGES = ("database is locked", "database table is locked", "database schema is locked")


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection holds a lock (worth a retry)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES  # extended codes keep the primary one below
    return str(exc).startswith(_BUSY_MESSAGES)


@contextmanager
def _translated() -> Iterator[None]:
    """The engine-neutral errors for what sqlite3 raises; others go up as they are."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(str(exc)) from exc
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise DatabaseUnavailable(f"the database is busy: {exc}") from exc
        raise


def connect(path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000,
            read_only: bool = False) -> sqlite3.Connection:
    """Open a SQLite connection configured as every Tasklette connection must be."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=busy_timeout_ms / 1000, cached_statements=256)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -32000")  # 32 MiB of page cache
    conn.execute("PRAGMA temp_store = MEMORY")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


def _rows(cursor: sqlite3.Cursor) -> list[Row]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


class SQLiteConn:
    """Runs SQL on one sqlite3 connection; errors of constraints become IntegrityError."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _execute(self, sql: str, params: Params) -> sqlite3.Cursor:
        with _translated():
            return self._conn.execute(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cursor = self._execute(sql, params)
        values = cursor.fetchone()
        if values is None:
            return None
        return dict(zip([d[0] for d in cursor.description], values, strict=True))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return _rows(self._execute(sql, params))

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        values = self._execute(sql, params).fetchone()
        return None if values is None else values[0]

    async def fetchtuples(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._execute(sql, params).fetchall()

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._execute(sql, params).rowcount

    async def executemany(self, sql: str, seq: Iterable[Params]) -> None:
        with _translated():
            self._conn.executemany(sql, seq)


class SQLiteTx(SQLiteConn, CommitCallbacks):
    """One unit of work inside the current batch transaction."""

    def __init__(self, conn: sqlite3.Connection, publish: Callable[[Row], None]) -> None:
        SQLiteConn.__init__(self, conn)
        CommitCallbacks.__init__(self, publish)


class _Checkpointer:
    """Copies committed WAL pages into the database file, in a thread, when nudged."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tasklette-checkpoint",
                                        daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Something was committed: copy it (nudges while a checkpoint runs coalesce)."""
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                # PASSIVE: copies what no reader still needs, waits for nobody.
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                # Nothing is lost: the writer's own checkpoint copies the pages instead.
                log.warning("a background checkpoint failed", exc_info=True)

    def close(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join()
        self._conn.close()


@dataclass
class _Batch:
    begun: asyncio.Future[object]
    committed: asyncio.Future[None]
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    broken: BaseException | None = None


class SQLiteDatabase:
    """A Tasklette database in one SQLite file."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, synchronous: str = "FULL",
                 busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._synchronous, self._busy_timeout_ms = synchronous, busy_timeout_ms
        self._writer = connect(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
        self._checkpointer = _Checkpointer(
            connect(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms))
        self._idle: list[sqlite3.Connection] = [self._open_reader()]
        self._readers = asyncio.Semaphore(MAX_READERS)
        self._reading: ReadScope[SQLiteConn] = ReadScope()
        self._watcher: sqlite3.Connection | None = None
        self._closed = False
        self._lock = asyncio.Lock()
        self._batch: _Batch | None = None
        self._commit_task: asyncio.Task[None] | None = None
        self._publish: Callable[[Row], None] = lambda event: None

    def set_publisher(self, publish: Callable[[Row], None]) -> None:
        self._publish = publish

    def _open_reader(self) -> sqlite3.Connection:
        return connect(self.path, synchronous=self._synchronous,
                       busy_timeout_ms=self._busy_timeout_ms, read_only=True)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SQLiteConn]:
        """One read transaction on a pooled connection: all its queries see one snapshot."""
        held = self._reading.current()
        if held is not None:
            yield held
            return
        async with self._readers:
            raw = self._idle.pop() if self._idle else self._open_reader()
            try:
                raw.execute("BEGIN")  # deferred: the snapshot is taken by the first read
                conn = SQLiteConn(raw)
                with self._reading.hold(conn):
                    yield conn
            finally:
                self._end_read(raw)

    def _end_read(self, raw: sqlite3.Connection) -> None:
        """End the read transaction and put the connection back (or close it)."""
        try:
            if raw.in_transaction:
                raw.execute("COMMIT")
        except sqlite3.Error:
            raw.close()  # a connection in an unknown state is not reused
            return
        if self._closed:
            raw.close()
        else:
            self._idle.append(raw)

    def data_version(self) -> int:
        """A number that changes whenever any other connection (or process) commits."""
        if self._watcher is None:
            self._watcher = self._open_reader()
        return int(self._watcher.execute("PRAGMA data_version").fetchone()[0])

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteTx]:
        loop = asyncio.get_running_loop()
        async with self._lock:
            batch = self._batch
            if batch is None:
                batch = _Batch(
                    begun=asyncio.ensure_future(
                        asyncio.to_thread(self._writer.execute, "BEGIN IMMEDIATE")),
                    committed=loop.create_future(),
                )
                self._batch = batch
            try:
                with _translated():
                    if batch.begun.done():  # all but the batch's first unit: no wait
                        batch.begun.result()
                    else:
                        # Shielded: a cancelled request must not leave a BEGIN half-known.
                        await asyncio.shield(batch.begun)
            except (sqlite3.Error, DatabaseUnavailable):
                if self._batch is batch:
                    self._batch = None
                raise
            tx = SQLiteTx(self._writer, self._publish)
            self._writer.execute("SAVEPOINT unit")
            try:
                yield tx
            except BaseException as exc:
                self._undo_unit(batch, exc)
                raise
            else:
                self._writer.execute("RELEASE unit")
                batch.callbacks.extend(tx.callbacks)
            finally:
                if self._commit_task is None:
                    self._commit_task = asyncio.create_task(self._commit())
        with _translated():
            await asyncio.shield(batch.committed)

    def _undo_unit(self, batch: _Batch, exc: BaseException) -> None:
        try:
            self._writer.execute("ROLLBACK TO unit")
            self._writer.execute("RELEASE unit")
        except sqlite3.Error:
            # SQLite already rolled back the whole transaction (disk full, I/O error):
            # every unit in the batch is lost, so the batch must fail as a whole.
            batch.broken = exc

    async def _commit(self) -> None:
        async with self._lock:
            batch, self._batch = self._batch, None
            self._commit_task = None
            if batch is None:
                return
            try:
                if batch.broken is not None:
                    raise batch.broken
                await asyncio.to_thread(self._writer.execute, "COMMIT")
                self._checkpointer.nudge()
            except BaseException as exc:
                if self._writer.in_transaction:
                    await asyncio.to_thread(self._writer.execute, "ROLLBACK")
                batch.committed.set_exception(
                    exc if isinstance(exc, Exception) else RuntimeError("commit cancelled"))
                batch.committed.exception()  # mark retrieved: waiters may all be gone
                if not isinstance(exc, Exception):
                    raise
                return
            batch.committed.set_result(None)
        for callback in batch.callbacks:
            callback()

    async def close(self) -> None:
        while self._commit_task is not None:
            await self._commit_task
        async with self._lock:
            self._closed = True
            await asyncio.to_thread(self._checkpointer.close)
            self._writer.close()
            for raw in self._idle:
                raw.close()
            self._idle.clear()
            if self._watcher is not None:
                self._watcher.close()


class ServerAlreadyRunning(RuntimeError):
    """Another server process holds this SQLite database."""


_claims: dict[Path, tuple[int, int]] = {}  # lock file -> (open descriptor, holders here)


def claim_for_server(path: Path) -> Callable[[], None]:
    """Take, for a server's life, the lock that lets one server process use `path`.

    Only servers take it: each holds its own broker, and its streams would never see
    another server's changes. The CLI (imports, users, tokens) runs beside a server
    freely; its events reach the server's streams through the events table. The lock
    is an flock on a file beside the database, released by the kernel whatever way
    the process ends. Within one process it may be taken again (`serve` takes it,
    then the app's lifespan). Returns how to let go.
    """
    lock_path = path.with_name(path.name + ".server-lock").resolve()
    if lock_path in _claims:
        fd, holders = _claims[lock_path]
        _claims[lock_path] = (fd, holders + 1)
    else:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ServerAlreadyRunning(
                f"another Tasklette server is already running on {path}: on SQLite one "
                "server process serves a database (the tasklette CLI may run beside it). "
                "To run several server processes, use PostgreSQL "
                "(TASKLETTE_DATABASE_URL, see docs/deployment.md).") from None
        _claims[lock_path] = (fd, 1)
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        fd, holders = _claims[lock_path]
        if holders > 1:
            _claims[lock_path] = (fd, holders - 1)
        else:
            del _claims[lock_path]
            os.close(fd)  # closing the last descriptor drops the flock

    return release


def backup(source: Path, dest: Path, *, progress: Callable[[int, int], None] | None = None
           ) -> None:
    """Copy a live database to `dest` with SQLite's online backup API, then check the copy.

    Writers go on meanwhile; the copy is one consistent moment of the database. It is
    written beside `dest` and renamed into place only once complete and checked.
    """
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=1024,
                   progress=(lambda status, remaining, total: progress(total - remaining, total))
                   if progress else None)
        verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {verdict}")
    finally:
        dst.close()
        src.close()
    os.replace(partial, dest)
