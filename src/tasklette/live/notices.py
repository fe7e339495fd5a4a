"""Notices: tell a user's open streams (`/api/v1/me/events`) that they have new
notifications, whichever process wrote them.

The notifications table is followed by id, as `feeds.py` follows the events table:
woken at once by this process's commits (`services.notifications.add_waker`), by
`PRAGMA data_version` on SQLite (another process committed) or `LISTEN` on
PostgreSQL, and by a slow poll besides.
Each recipient's open streams get a `notification.created` frame naming the newest
of their new notifications and their unread count (read once per batch, only for
users with a stream open here); it has no `id:` and moves no Last-Event-ID: a
stream says the count first when it opens (`count_frame`). Ids commit in order on both
engines (one writer; an advisory lock in `storage.notifications`), so none is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import orjson

from tasklette.live.broker import Broker
from tasklette.services import notifications as service
from tasklette.storage import notifications
from tasklette.storage.database import Database
from tasklette.storage.sqlite import SQLiteDatabase

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("tasklette.live")
BATCH = 1000
KIND = "notification.created"

def frame(user_id: int, notification_id: int, unread_count: int) -> bytes:
    """New notifications for `user_id`: the newest one's id, and how many are unread."""
    data = orjson.dumps({"user_id": user_id, "notification_id": notification_id,
                         "unread_count": unread_count})
    return b"event: %s\ndata: %s\n\n" % (KIND.encode(), data)


def count_frame(unread_count: int) -> bytes:
    """What a user's stream says first: how many notifications are unread."""
    data = orjson.dumps({"unread_count": unread_count})
    return b"event: notification.count\ndata: %s\n\n" % data


class NoticeFollower:
    """Follow the notifications table; hand each new one's recipient a frame."""

    def __init__(self, db: Database, broker: Broker, *, postgres_url: str = "",
                 interval: float = 0.2, poll_seconds: float = 2.0) -> None:
        self._db, self._broker, self._url = db, broker, postgres_url
        self._interval, self._poll = interval, poll_seconds
        self._wake = asyncio.Event()
        self._cursor = 0
        self._version = -1
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        async with self._db.reading() as conn:
            self._cursor = await notifications.latest_id(conn)
        if self._url:
            await self._try_listening()
        service.add_waker(self._woken)
        self._task = asyncio.create_task(self._follow(), name="tasklette-notices")

    async def _listen(self) -> None:
        import asyncpg  # PostgreSQL only: a SQLite server never loads the driver

        conn = await asyncpg.connect(self._url)
        await conn.add_listener(notifications.NOTIFY_CHANNEL, self._on_notify)
        self._listener = conn

    async def _try_listening(self) -> None:
        """LISTEN if the server answers; if not, the slow poll covers until it does."""
        import asyncpg

        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self._listen()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._wake.set()

    def _woken(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def _changed(self) -> bool:
        """Whether reading could find something (SQLite: has anyone committed?)."""
        if not isinstance(self._db, SQLiteDatabase):
            return True
        version = self._db.data_version()
        changed, self._version = version != self._version, version
        return changed

    async def _follow(self) -> None:
        waited = 0.0
        while True:
            woken = False
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
            if self._wake.is_set():
                self._wake.clear()
                woken = True
            waited += self._interval
            try:
                if woken or waited >= self._poll or (self._url == "" and self._changed()):
                    waited = 0.0
                    await self._catch_up()
                    if self._url and (self._listener is None or self._listener.is_closed()):
                        await self._try_listening()
            except Exception:
                log.exception("reading new notifications failed; retrying")
                await asyncio.sleep(1)

    async def _catch_up(self) -> None:
        while True:
            async with self._db.reading() as conn:
                batch = await notifications.after(conn, self._cursor, BATCH)
            newest: dict[int, int] = {}
            for notification_id, user_id in batch:
                newest[user_id] = notification_id
                self._cursor = notification_id
            listening = [user_id for user_id in newest if self._broker.has_user(user_id)]
            if listening:
                async with self._db.reading() as conn:
                    counts = await notifications.unread_counts(conn, listening)
                for user_id in listening:
                    self._broker.send_to_user(
                        user_id, frame(user_id, newest[user_id], counts[user_id]))
            if len(batch) < BATCH:
                return

    async def stop(self) -> None:
        service.remove_waker(self._woken)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
