"""API views for the event streams (Server-Sent Events)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tasklette.api import schemas
from tasklette.live import streams
from tasklette.live.response import EventStreamResponse
from tasklette.numbers import int_or_none
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
    await streams.require_member(db, actor, project_id)
    subscriber = state.broker.subscribe_project(project_id, actor.id, present=query.presence)
    return EventStreamResponse(streams.project_stream(
        db, state.broker, subscriber, actor, project_id, after,
        heartbeat=state.settings.stream_heartbeat_seconds), subscriber.close)


async def my_events(request: Request, actor: Actor, query: schemas.StreamQuery) -> Any:
    state = request.app.state
    after = _after(request, query)
    project_ids = await streams.my_project_ids(state.db, actor)
    subscriber = state.broker.subscribe_user(actor.id, project_ids)
    return EventStreamResponse(streams.user_stream(
        state.db, subscriber, actor, after, project_ids,
        heartbeat=state.settings.stream_heartbeat_seconds), subscriber.close)
