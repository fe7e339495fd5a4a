"""Feeds: how committed events reach this process's broker.

- SQLite, one server process (a second one is refused, see `claim_for_server`), with
  the CLI possibly writing beside it: the feed follows the events table by id
  (`SQLiteFeed`). It reads at once after each of this process's commits, and polls
  `PRAGMA data_version` (a counter, no table read) for other processes' commits.
  SQLite's one writer hands out ids in commit order, so reading "everything after
  the last id published" in order misses nothing and repeats nothing.
- PostgreSQL, any number of processes and hosts: `LISTEN/NOTIFY` is the wake-up
  signal and the events table the data (`PostgresFeed`). The notification
  names a project and an event id; the feed reads that project's new events in
  id order. When the listening connection drops, it reconnects and catches up
  from the table. Presence is shared between processes on a second channel.

On either engine only the feed publishes (a process's own events too): two paths
(after commit, and from the table) would reorder or repeat events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from tasklette.live.broker import Broker
from tasklette.settings import Settings
from tasklette.storage import events
from tasklette.storage.database import Database, Row
from tasklette.storage.sqlite import SQLiteDatabase

log = logging.getLogger("tasklette.live")

class Feed(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SQLiteFeed:
    """Follow the events table: woken by this process's commits, polling for others'."""

    def __init__(self, db: SQLiteDatabase, broker: Broker, *, interval: float = 0.2) -> None:
        self._db, self._broker, self._interval = db, broker, interval
        self._wake = asyncio.Event()
        self._version = 0
        self._cursor = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The version first: anything committed after it is read by the first check.
        self._version = self._db.data_version()
        async with self._db.reading() as conn:
            self._cursor = await events.latest_id(conn)
        self._db.set_publisher(self._nudge)
        self._task = asyncio.create_task(self._follow(), name="tasklette-event-follow")

    def _nudge(self, event: Row) -> None:
        """This process committed `event`: read the table now (the event is in it)."""
        self._wake.set()

    async def _follow(self) -> None:
        while True:
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                version = self._db.data_version()
                if version != self._version:
                    await self._catch_up()
                    self._version = version
            except Exception:
                log.exception("reading new events failed; retrying")
                await asyncio.sleep(1)

    async def _catch_up(self) -> None:
        """Publish every event after the last one published, in id order."""
        while True:
            async with self._db.reading() as conn:
                batch = await events.after_everywhere(conn, self._cursor, 1000)
            for event in batch:
                self._broker.publish(event)
                self._cursor = event["id"]
            if len(batch) < 1000:
                return

    async def stop(self) -> None:
        self._db.set_publisher(lambda event: None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def open_feed(settings: Settings, db: Database, broker: Broker) -> Feed:
    """The feed for how this Tasklette runs: engine, and one process or several."""
    if isinstance(db, SQLiteDatabase):
        return SQLiteFeed(db, broker)
    from tasklette.live.postgres_feed import PostgresFeed  # the driver, only when used

    return PostgresFeed(db, broker, settings.database_url)
