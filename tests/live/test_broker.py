"""The broker on its own: bounded queues, dropping a laggard, membership, presence."""

from __future__ import annotations

import asyncio
from typing import Any

from tasklette.live.broker import Broker


def event(event_id: int, kind: str = "task.created", project_id: int = 1,
          **payload: Any) -> dict[str, Any]:
    return {"id": event_id, "project_id": project_id, "actor_id": 1, "kind": kind,
            "entity_type": "task", "entity_id": event_id, "task_id": event_id,
            "payload": payload, "created_at": "2026-11-24T00:00:00Z"}


def test_a_subscriber_that_falls_behind_is_dropped_and_writers_never_wait() -> None:
    async def scenario() -> None:
        broker = Broker(queue_limit=3)
        slow = broker.subscribe_project(1, user_id=7)
        fast = broker.subscribe_project(1, user_id=8)
        for n in range(1, 4):
            broker.publish(event(n))
        assert [i for i, _ in await fast.next_frames(1)] == [1, 2, 3]
        broker.publish(event(4))  # the fourth overflows the slow one's queue of three
        assert slow.closed == "fell behind"
        assert [i for i, _ in await slow.next_frames(1)] == [1, 2, 3]  # what it had
        assert [i for i, _ in await fast.next_frames(1)] == [4]
        assert broker.subscriber_count() == 1

    asyncio.run(scenario())


def test_an_event_handed_over_twice_is_sent_once() -> None:
    async def scenario() -> None:
        broker = Broker()
        subscriber = broker.subscribe_project(1, user_id=7)
        for n in (1, 2, 2, 1, 3):
            broker.publish(event(n))
        assert [i for i, _ in await subscriber.next_frames(1)] == [1, 2, 3]

    asyncio.run(scenario())


def test_removing_a_member_closes_only_their_streams() -> None:
    async def scenario() -> None:
        broker = Broker()
        ana = broker.subscribe_project(1, user_id=2)
        ben = broker.subscribe_project(1, user_id=3)
        broker.publish(event(1, "member.removed", member={"id": 2}))
        assert ana.closed == "you are no longer a member of this project"
        assert ben.closed is None

    asyncio.run(scenario())


def test_presence_counts_people_not_tabs_and_merges_other_processes() -> None:
    async def scenario() -> None:
        broker = Broker()
        first_tab = broker.subscribe_project(1, user_id=2, present=True)
        broker.subscribe_project(1, user_id=2, present=True)
        broker.subscribe_project(1, user_id=9)  # an API client: not a viewer
        assert broker.viewers(1) == {2}
        broker.remote_presence("other-process", 1, frozenset({5}))
        assert broker.viewers(1) == {2, 5}
        first_tab.close("tab closed")
        assert broker.viewers(1) == {2, 5}

    asyncio.run(scenario())
