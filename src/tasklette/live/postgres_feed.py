"""The PostgreSQL feed: `LISTEN/NOTIFY` wakes it, the events table is the data.

Its own module so that a server on SQLite never loads the PostgreSQL driver (see
live/feeds.py for how both feeds deliver).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import asyncpg
import orjson

from tasklette.live.broker import PRESENCE_TTL, Broker
from tasklette.storage import events
from tasklette.storage.database import Database

log = logging.getLogger("tasklette.live")

PRESENCE_CHANNEL = "tasklette_presence"
# After a reconnect, events this far below the newest one seen are read again: they
# may have committed late. The broker sends each event once, whatever it is handed.
CATCH_UP_SLACK = 1000


class PostgresFeed:
    """LISTEN for committed events' ids; read the events themselves from the table."""

    def __init__(self, db: Database, broker: Broker, url: str, *,
                 reconnect_delay: float = 0.5) -> None:
        self._db, self._broker, self._url = db, broker, url
        self._reconnect_delay = reconnect_delay
        self._node = uuid.uuid4().hex  # this process, in presence reports
        self._cursors: dict[int, int] = {}  # project id -> last event published
        self._woken: dict[int, int] = {}  # project id -> lowest id notified, not yet read
        self._wake = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._high_water = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._db.set_publisher(lambda event: None)  # the table is the one source
        async with self._db.reading() as conn:
            self._high_water = await events.latest_id(conn)
        await self._listen()
        self._broker.on_presence = self._share_presence
        self._tasks = [asyncio.create_task(self._deliver(), name="tasklette-event-deliver"),
                       asyncio.create_task(self._keep_listening(), name="tasklette-listen"),
                       asyncio.create_task(self._repeat_presence(), name="tasklette-presence")]

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._url)
        self._lost.clear()
        conn.add_termination_listener(lambda _: self._lost.set())
        await conn.add_listener(events.NOTIFY_CHANNEL, self._on_event)
        await conn.add_listener(PRESENCE_CHANNEL, self._on_presence)
        self._conn = conn

    def _on_event(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        project, _, event_id = payload.partition(":")
        project_id, new_id = int(project), int(event_id)
        waiting = self._woken.get(project_id)
        self._woken[project_id] = new_id if waiting is None else min(waiting, new_id)
        self._wake.set()

    async def _deliver(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            woken, self._woken = self._woken, {}
            for project_id, first_new in woken.items():
                try:
                    await self._catch_up(project_id, first_new - 1)
                except Exception:
                    log.exception("reading events of project %s failed", project_id)
                    self._woken.setdefault(project_id, first_new)
                    await asyncio.sleep(0.2)
                    self._wake.set()

    async def _catch_up(self, project_id: int, floor: int) -> None:
        """Publish the project's events after what this process last published of it."""
        cursor = self._cursors.get(project_id, floor)
        while True:
            async with self._db.reading() as conn:
                batch = await events.after(conn, project_id, cursor, 500)
            for event in batch:
                self._broker.publish(event)
                cursor = event["id"]
            self._cursors[project_id] = cursor
            self._high_water = max(self._high_water, cursor)
            if len(batch) < 500:
                return

    async def _keep_listening(self) -> None:
        """When the listening connection drops, reconnect and read what was missed."""
        while True:
            await self._lost.wait()
            log.warning("the event listener lost its connection; reconnecting")
            while True:
                try:
                    await self._listen()
                    break
                except (OSError, asyncpg.PostgresError):
                    await asyncio.sleep(self._reconnect_delay)
            async with self._db.reading() as conn:
                # Whatever committed while nobody listened.
                missed = await events.after_everywhere(
                    conn, max(0, self._high_water - CATCH_UP_SLACK), 100_000)
            for event in missed:
                self._broker.publish(event)
                self._cursors[event["project_id"]] = max(
                    event["id"], self._cursors.get(event["project_id"], 0))
                self._high_water = max(self._high_water, event["id"])

    # --- presence between processes -------------------------------------------------

    def _share_presence(self, project_id: int, users: frozenset[int]) -> None:
        asyncio.get_running_loop().create_task(self._notify_presence(project_id, users))

    async def _notify_presence(self, project_id: int, users: frozenset[int]) -> None:
        if self._conn is None or self._conn.is_closed():
            return
        message = orjson.dumps({"node": self._node, "project_id": project_id,
                                "user_ids": sorted(users)}).decode()
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self._conn.execute("SELECT pg_notify($1, $2)", PRESENCE_CHANNEL, message)

    def _on_presence(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        report = orjson.loads(payload)
        if report["node"] != self._node:
            self._broker.remote_presence(report["node"], report["project_id"],
                                         frozenset(report["user_ids"]))

    async def _repeat_presence(self) -> None:
        """Reports expire; say again who is here, well before they do."""
        while True:
            await asyncio.sleep(PRESENCE_TTL / 3)
            for project_id, users in self._broker.projects_with_viewers().items():
                if users:
                    await self._notify_presence(project_id, users)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
