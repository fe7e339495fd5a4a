"""The in-process broker: committed events fanned out to the streams open in this process.

A stream subscribes to a project (everyone on a board) or to a user (their
notifications). `publish` is called once per committed event, in commit order;
it encodes the event's SSE frame once and appends it to each subscriber's
bounded queue. Writers never wait for readers: a subscriber whose queue is full
is closed, and its client reconnects with `Last-Event-ID` and replays the rest
from the events table. Nothing here touches the database.

Presence rides along: the broker knows who holds a board's stream open in this
process, and merges what other processes report (see `feeds.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from tasklette.live.response import cut_if_stuck
from tasklette.services.permissions import Credential
from tasklette.storage.database import Row
from tasklette.storage.events import recipients

QUEUE_LIMIT = 1000  # frames a subscriber may fall behind before it is dropped
PRESENCE_TTL = 45.0  # seconds another process's presence report stays true


def event_data(event: Row) -> dict[str, Any]:
    """What a stream sends of an event: the row, payload included."""
    return {"id": event["id"], "project_id": event["project_id"],
            "actor_id": event["actor_id"], "kind": event["kind"],
            "entity_type": event["entity_type"], "entity_id": event["entity_id"],
            "task_id": event["task_id"], "payload": event["payload"],
            "created_at": event["created_at"]}


def encode_event(event: Row) -> bytes:
    """One SSE frame: `id`, `event` (the kind) and one line of JSON `data`."""
    data = orjson.dumps(event_data(event))
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event["id"], event["kind"].encode(), data)


def encode_presence(project_id: int, user_ids: Iterable[int]) -> bytes:
    """A presence frame has no `id`: it never moves a client's Last-Event-ID."""
    data = orjson.dumps({"project_id": project_id, "user_ids": sorted(user_ids)})
    return b"event: presence\ndata: %s\n\n" % data


class Subscriber:
    """One open stream's queue of frames (each frame with its event id, or 0)."""

    def __init__(self, broker: Broker, user_id: int, project_id: int | None,
                 project_ids: set[int], *, present: bool, limit: int,
                 credential: Credential | None = None) -> None:
        self.broker = broker
        self.user_id = user_id
        self.credential = credential  # what the stream signed in with: re-checked
        self.project_id = project_id  # None for a user's notification stream
        self.project_ids = project_ids
        self.present = present
        self.closed: str | None = None  # why, once closed
        self._limit = limit
        self._frames: deque[tuple[int, bytes]] = deque()
        # One future per wait, woken by push or close: cheaper than an Event and a
        # wait_for (a task and a timer) when thousands of streams wait at once.
        self._waiter: asyncio.Future[None] | None = None
        self._task = asyncio.current_task()  # the stream's request

    def push(self, event_id: int, frame: bytes) -> None:
        if self.closed is not None:
            return
        if len(self._frames) >= self._limit:
            self.close("fell behind")
            cut_if_stuck(self._task)
            return
        self._frames.append((event_id, frame))
        self._wake()

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self._wake()
            self.broker.unsubscribe(self)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_frames(self, timeout: float) -> list[tuple[int, bytes]]:
        """Wait up to `timeout` seconds for frames; [] on time-out or once closed."""
        if not self._frames and self.closed is None:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _time_up, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        frames = list(self._frames)
        self._frames.clear()
        return frames


def _time_up(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Broker:
    """Subscribers by project and by user; publish fans a committed event out to them."""

    def __init__(self, *, queue_limit: int = QUEUE_LIMIT) -> None:
        self._queue_limit = queue_limit
        self._projects: dict[int, set[Subscriber]] = defaultdict(set)
        self._users: dict[int, set[Subscriber]] = defaultdict(set)
        self._last_id: dict[int, int] = {}
        self._remote: dict[int, dict[str, tuple[frozenset[int], float]]] = defaultdict(dict)
        self.on_presence: Callable[[int, frozenset[int]], None] = lambda project, users: None
        self.closed = False

    # --- subscribing ----------------------------------------------------------------

    def subscribe_project(self, project_id: int, user_id: int, *, present: bool = False,
                          credential: Credential | None = None) -> Subscriber:
        subscriber = Subscriber(self, user_id, project_id, {project_id}, present=present,
                                limit=self._queue_limit, credential=credential)
        before = self.local_viewers(project_id)
        self._projects[project_id].add(subscriber)
        self._presence_changed(project_id, before)
        return subscriber

    def subscribe_user(self, user_id: int, project_ids: set[int], *,
                       credential: Credential | None = None) -> Subscriber:
        subscriber = Subscriber(self, user_id, None, set(project_ids), present=False,
                                limit=self._queue_limit, credential=credential)
        self._users[user_id].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber.project_id is None:
            self._discard(self._users, subscriber.user_id, subscriber)
            return
        before = self.local_viewers(subscriber.project_id)
        self._discard(self._projects, subscriber.project_id, subscriber)
        self._presence_changed(subscriber.project_id, before)

    @staticmethod
    def _discard(index: dict[int, set[Subscriber]], key: int, subscriber: Subscriber) -> None:
        group = index.get(key)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del index[key]

    def subscribers(self) -> list[Subscriber]:
        """Every open subscription of this process."""
        return [s for group in [*self._projects.values(), *self._users.values()] for s in group]

    def subscriber_count(self) -> int:
        return sum(map(len, self._projects.values())) + sum(map(len, self._users.values()))

    # --- publishing -----------------------------------------------------------------

    def publish(self, event: Row) -> None:
        """Fan one committed event out; events a feed hands over twice are sent once."""
        project_id = event["project_id"]
        if project_id is None or self.closed:
            return
        if event["id"] <= self._last_id.get(project_id, 0):
            return
        self._last_id[project_id] = event["id"]
        event_id = event["id"]
        targets = list(self._projects.get(project_id, ()))
        if self._users:
            for user_id in recipients(event["actor_id"], event["kind"], event["payload"]):
                targets.extend(self._users.get(user_id, ()))
        if targets:  # encoded once, and only when someone listens
            frame = encode_event(event)
            for subscriber in targets:
                subscriber.push(event_id, frame)
        self._apply_membership(event, project_id)

    def has_user(self, user_id: int) -> bool:
        """Whether the user has a notification stream open in this process."""
        return bool(self._users.get(user_id))

    def send_to_user(self, user_id: int, frame: bytes) -> None:
        """A frame without an event id for one user's streams (see `notices.py`)."""
        for subscriber in list(self._users.get(user_id, ())):
            subscriber.push(0, frame)

    def _apply_membership(self, event: Row, project_id: int) -> None:
        """A removed member's streams end; a new member's notifications widen."""
        kind = event["kind"]
        if kind == "project.deleted":
            for subscriber in list(self._projects.get(project_id, ())):
                subscriber.close("the project was deleted")
            for group in list(self._users.values()):
                for subscriber in list(group):
                    subscriber.project_ids.discard(project_id)
        elif kind == "member.removed":
            user_id = event["payload"]["member"]["id"]
            for subscriber in list(self._projects.get(project_id, ())):
                if subscriber.user_id == user_id:
                    subscriber.close("you are no longer a member of this project")
            for subscriber in self._users.get(user_id, ()):
                subscriber.project_ids.discard(project_id)
        elif kind == "member.added":
            for subscriber in self._users.get(event["payload"]["member"]["id"], ()):
                subscriber.project_ids.add(project_id)

    def close_all(self, reason: str) -> None:
        """Shutting down: end every stream now (clients reconnect elsewhere)."""
        self.closed = True
        for group in [*self._projects.values(), *self._users.values()]:
            for subscriber in list(group):
                subscriber.close(reason)

    # --- presence -------------------------------------------------------------------

    def local_viewers(self, project_id: int) -> frozenset[int]:
        return frozenset(s.user_id for s in self._projects.get(project_id, ()) if s.present)

    def viewers(self, project_id: int) -> frozenset[int]:
        """Who has this board open, in this process or (as last reported) in others."""
        now = time.monotonic()
        users = set(self.local_viewers(project_id))
        for node, (remote, expires) in list(self._remote.get(project_id, {}).items()):
            if expires < now:
                del self._remote[project_id][node]
            else:
                users |= remote
        return frozenset(users)

    def projects_with_viewers(self) -> dict[int, frozenset[int]]:
        return {project_id: self.local_viewers(project_id) for project_id in self._projects}

    def remote_presence(self, node: str, project_id: int, users: frozenset[int]) -> None:
        """Another process reports who views `project_id` there."""
        before = self.viewers(project_id)
        self._remote[project_id][node] = (users, time.monotonic() + PRESENCE_TTL)
        self._announce_if_changed(project_id, before)

    def _presence_changed(self, project_id: int, before: frozenset[int]) -> None:
        local = self.local_viewers(project_id)
        if local != before:
            self.on_presence(project_id, local)
        # Compare everyone (local and remote) before and after this change.
        everyone_before = before | self._remote_users(project_id)
        self._announce_if_changed(project_id, everyone_before)

    def _remote_users(self, project_id: int) -> frozenset[int]:
        now = time.monotonic()
        users: set[int] = set()
        for remote, expires in self._remote.get(project_id, {}).values():
            if expires >= now:
                users |= remote
        return frozenset(users)

    def _announce_if_changed(self, project_id: int, before: frozenset[int]) -> None:
        after = self.viewers(project_id)
        if after == before:
            return
        frame = encode_presence(project_id, after)
        for subscriber in list(self._projects.get(project_id, ())):
            subscriber.push(0, frame)
