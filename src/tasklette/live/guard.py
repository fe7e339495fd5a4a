"""Re-checking open event streams: credentials and memberships, all streams at once.

A stream is authorised when it opens. Later, its token may be revoked, its session
signed out (or left idle past its timeout), or its user's membership end without
an event (an edit in the database, another process's change the broker never
saw). Once per heartbeat interval the guard asks `permissions.ended_grants` about
every open stream in one read, and closes those that no longer hold: the stream
then sends `stream.closed` with the reason. Heartbeats themselves touch nothing
but the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from tasklette.live.broker import Broker
from tasklette.services import permissions
from tasklette.services.permissions import StreamGrant
from tasklette.storage.database import Database

log = logging.getLogger("tasklette.live")


class StreamGuard:
    """Every `interval` seconds, close the streams whose grant has ended."""

    def __init__(self, db: Database, broker: Broker, interval: float,
                 session_idle: timedelta) -> None:
        self._db, self._broker, self._interval = db, broker, interval
        self._session_idle = session_idle
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tasklette-stream-guard")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception:
                log.exception("re-checking the open event streams failed; trying again")

    async def check(self) -> int:
        """Close every open stream whose grant has ended; return how many were closed."""
        grants = {subscriber: StreamGrant(subscriber.user_id, subscriber.credential,
                                          subscriber.project_id)
                  for subscriber in self._broker.subscribers() if subscriber.closed is None}
        if not grants:
            return 0
        ended = await permissions.ended_grants(self._db, set(grants.values()),
                                               self._session_idle)
        for subscriber, grant in grants.items():
            reason = ended.get(grant)
            if reason is not None:
                subscriber.close(reason)
        return sum(1 for grant in grants.values() if grant in ended)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
