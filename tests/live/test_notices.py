"""The notice follower: notifications another process writes reach their recipients'
open streams (SQLite: by PRAGMA data_version; PostgreSQL: by LISTEN), and nobody else's."""

from __future__ import annotations

import time

import orjson

from tasklette.clock import now_iso
from tasklette.live.broker import Broker
from tasklette.live.notices import NoticeFollower
from tasklette.services import projects, tasks
from tasklette.services.permissions import Actor
from tasklette.settings import Settings
from tasklette.storage import notifications, users
from tasklette.storage.open import connect
from tests.conftest import run_sync
from tests.services.conftest import settings  # noqa: F401 (a fixture)


def test_notifications_written_elsewhere_reach_only_their_recipients(
        settings: Settings) -> None:  # noqa: F811
    async def main() -> tuple[list[bytes], list[bytes], float]:
        mine, writer = await connect(settings), await connect(settings)
        follower: NoticeFollower | None = None
        try:
            async with writer.transaction() as tx:
                ana = await users.insert(tx, "ana", "Ana", "x", False)
                ben = await users.insert(tx, "ben", "Ben", "x", False)
            owner = Actor(int(ana["id"]), "ana")
            project = await projects.create(writer, owner, "P")
            task = await tasks.create(writer, owner, int(project["id"]),
                                      tasks.TaskFields(title="t"))
            broker = Broker()
            hers = broker.subscribe_user(int(ana["id"]), set())
            his = broker.subscribe_user(int(ben["id"]), set())
            follower = NoticeFollower(mine, broker, postgres_url=settings.database_url)
            await follower.start()
            started = time.monotonic()
            # Another process's write: nothing in this one is woken by its commit.
            async with writer.transaction() as tx:
                await notifications.insert_many(tx, [
                    (int(ana["id"]), int(project["id"]), int(task["id"]), 1, "assigned",
                     None, "{}", now_iso())])
            got = [frame for _, frame in await hers.next_frames(3)]
            took = time.monotonic() - started
            return got, [frame for _, frame in await his.next_frames(0.5)], took
        finally:
            if follower is not None:
                await follower.stop()
            await mine.close()
            await writer.close()

    hers, his, took = run_sync(main())
    (frame,) = hers
    event, data = frame.decode().strip().split("\n")
    assert event == "event: notification.created"
    told = orjson.loads(data.removeprefix("data: "))
    assert told["notification_id"] >= 1
    assert told["unread_count"] == 1
    assert his == []
    assert took < 1.5, took  # a poll of 200 ms (SQLite) or a NOTIFY (PostgreSQL)
