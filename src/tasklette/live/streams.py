"""Event streams: replay what a client missed from the table, then follow the broker.

A stream subscribes to the broker when its response starts (a HEAD, or a client gone
before then, never subscribes), and *before* it reads the table, so an event that
commits meanwhile is either in what it reads or in its queue (or both: ids it
has already sent are skipped). That makes "everything after N, in order, once"
hold across reconnects, restarts and a switch to another process.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import orjson

from tasklette.live.broker import Broker, Subscriber, encode_event, encode_presence
from tasklette.services import permissions
from tasklette.services.permissions import Actor
from tasklette.storage import events, members, projects
from tasklette.storage.database import Conn, Database, Row

REPLAY_BATCH = 500
RETRY = b"retry: 1000\n\n"  # how soon a browser reconnects after a drop (ms)


def closing_frame(reason: str) -> bytes:
    return b"event: stream.closed\ndata: %s\n\n" % orjson.dumps({"reason": reason})


async def project_stream(db: Database, broker: Broker, subscriber: Subscriber,
                         project_id: int, after: int | None, *, heartbeat: float
                         ) -> AsyncGenerator[bytes, None]:
    """A project's events after `after` (none when None), then live ones, and presence.

    `subscriber` is the stream's subscription to the project, taken before anything
    is read from the table."""
    try:
        yield RETRY
        presence = encode_presence(project_id, broker.viewers(project_id))
        yield presence
        sent = after or 0
        if after is not None:
            async for event in _replay(
                    db, lambda conn, since: events.after(conn, project_id, since, REPLAY_BATCH),
                    after):
                yield encode_event(event)
                sent = event["id"]
        async for frame in _tail(subscriber, sent, heartbeat, presence):
            yield frame
    finally:
        subscriber.close("the stream ended")


async def user_stream(db: Database, subscriber: Subscriber, actor: Actor, after: int | None,
                      project_ids: set[int], *, heartbeat: float,
                      greeting: Callable[[], Awaitable[bytes]] | None = None
                      ) -> AsyncGenerator[bytes, None]:
    """Events that concern the user (their notifications) across their projects;
    first `greeting()`, read once subscribed (so nothing falls between)."""
    try:
        yield RETRY
        if greeting is not None:
            yield await greeting()
        sent = after or 0
        if after is not None:
            mine = sorted(project_ids)
            async for event in _replay(
                    db, lambda conn, since: events.after_in_projects(conn, mine, since,
                                                                     REPLAY_BATCH), after):
                sent = event["id"]
                if actor.id in events.recipients(event["actor_id"], event["kind"],
                                                 event["payload"]):
                    yield encode_event(event)
        async for frame in _tail(subscriber, sent, heartbeat):
            yield frame
    finally:
        subscriber.close("the stream ended")


async def _replay(db: Database, read: Callable[[Conn, int], Awaitable[list[Row]]],
                  after: int) -> AsyncIterator[Row]:
    """Every event `read` finds after `after`, oldest first, a batch at a time."""
    since = after
    while True:
        async with db.reading() as conn:
            batch = await read(conn, since)
        for event in batch:
            yield event
            since = event["id"]
        if len(batch) < REPLAY_BATCH:
            return


async def _tail(subscriber: Subscriber, sent: int, heartbeat: float, presence: bytes = b""
                ) -> AsyncIterator[bytes]:
    """Frames from the broker, skipping ids (and the presence) already sent; a heartbeat
    when idle. (Whether the stream may stay open is checked for all streams at once, by
    `guard.StreamGuard`, not here.)
    """
    while subscriber.closed is None:
        frames = await subscriber.next_frames(heartbeat)
        if not frames:
            if subscriber.closed is not None:
                break
            yield b": heartbeat\n\n"
            continue
        for event_id, frame in frames:
            if event_id:
                if event_id <= sent:
                    continue
                sent = event_id
            elif frame == presence:
                continue
            else:
                presence = frame
            yield frame
    if subscriber.closed != "the stream ended":
        yield closing_frame(subscriber.closed or "closed")


async def page_start(db: Database, actor: Actor, project_id: int) -> dict[str, object]:
    """What a project page needs to go live: the event id its stream resumes after
    (read before the page's data, so nothing falls between) and members' names."""
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        after = await events.latest_for_project(conn, project_id)
        people = {row["id"]: row["display_name"] or row["username"]
                  for row in await members.list_for_project(conn, project_id)}
    return {"project_id": project_id, "after": after, "people": people, "me": actor.id}
