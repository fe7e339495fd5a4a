"""API views for the event streams (Server-Sent Events)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tasklette.api import schemas
from tasklette.live import notices, streams
from tasklette.live.response import EventStreamResponse, Opened
from tasklette.numbers import int_or_none
from tasklette.services import notifications, permissions, projects
from tasklette.services.errors import Invalid
from tasklette.services.permissions import Actor


def _after(request: Request, query: schemas.StreamQuery) -> int | None:
    """Where to resume: the browser's Last-Event-ID on a reconnect, else `?after=`.

    A Last-Event-ID that is not an event id is refused (422) rather than replaced by
    "from now": the client would silently miss whatever happened while it was away.
    """
    header = request.headers.get("last-event-id")
    if header is None or not header.strip():
        return query.after
    after = int_or_none(header.strip())
    if after is None:
        raise Invalid("Last-Event-ID must be an event id (a whole number)",
                      field="Last-Event-ID")
    return after


async def project_events(request: Request, actor: Actor, query: schemas.StreamQuery) -> Any:
    db, state = request.app.state.db, request.app.state
    project_id = request.path_params["project_id"]
    after = _after(request, query)
    await permissions.require_follow(db, actor, project_id)

    def open_stream() -> Opened:
        subscriber = state.broker.subscribe_project(project_id, actor.id,
                                                    present=query.presence,
                                                    credential=actor.credential)
        return streams.project_stream(
            db, state.broker, subscriber, project_id, after,
            heartbeat=state.settings.stream_heartbeat_seconds), subscriber.close

    return EventStreamResponse(open_stream)


async def my_events(request: Request, actor: Actor, query: schemas.StreamQuery) -> Any:
    state = request.app.state
    after = _after(request, query)
    project_ids = {row["id"] for row in await projects.list_mine(state.db, actor)}

    def open_stream() -> Opened:
        subscriber = state.broker.subscribe_user(actor.id, project_ids,
                                                 credential=actor.credential)
        return streams.user_stream(
            state.db, subscriber, actor, after, project_ids,
            heartbeat=state.settings.stream_heartbeat_seconds,
            greeting=greeting), subscriber.close

    async def greeting() -> bytes:
        return notices.count_frame(await notifications.unread_count(state.db, actor))

    return EventStreamResponse(open_stream)
