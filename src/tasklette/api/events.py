"""API views for the event streams (Server-Sent Events)."""

from __future__ import annotations

from typing import Any

import anyio
from sse_starlette import EventSourceResponse
from starlette.requests import Request

from tasklette.api import schemas
from tasklette.live import streams
from tasklette.services.errors import Invalid
from tasklette.services.permissions import Actor

SEND_TIMEOUT = 30  # seconds a client may leave a frame unread before it is dropped
SHUTDOWN_GRACE = 2  # seconds a stream has to say goodbye when the server stops


def _after(request: Request, query: schemas.StreamQuery) -> int | None:
    """Where to resume: the browser's Last-Event-ID on a reconnect, else `?after=`."""
    header = request.headers.get("last-event-id")
    if header is None or not header.strip():
        return query.after
    if not header.strip().isdigit():
        raise Invalid("Last-Event-ID must be an event id (a whole number)",
                      field="Last-Event-ID")
    return int(header)


def _response(request: Request, content: Any) -> EventSourceResponse:
    """An event stream that ends on its own, with a farewell frame, when the server stops.

    sse-starlette notices the shutdown signal (SIGTERM); the broker then closes every
    stream, so each sends `stream.closed` and completes within the grace period.
    Pings are the stream's own heartbeats (they re-check membership too).
    """
    shutdown = anyio.Event()
    broker = request.app.state.broker

    async def close_streams_on_shutdown() -> None:
        await shutdown.wait()
        broker.close_all("the server is shutting down")

    return EventSourceResponse(content, ping=0, send_timeout=SEND_TIMEOUT,
                               headers={"cache-control": "no-store"},
                               shutdown_event=shutdown, shutdown_grace_period=SHUTDOWN_GRACE,
                               data_sender_callable=close_streams_on_shutdown)


async def project_events(request: Request, actor: Actor, query: schemas.StreamQuery) -> Any:
    db, state = request.app.state.db, request.app.state
    project_id = request.path_params["project_id"]
    after = _after(request, query)
    await streams.require_member(db, actor, project_id)
    return _response(request, streams.project_stream(
        db, state.broker, actor, project_id, after, present=query.presence,
        heartbeat=state.settings.stream_heartbeat_seconds))


async def my_events(request: Request, actor: Actor, query: schemas.StreamQuery) -> Any:
    state = request.app.state
    return _response(request, streams.user_stream(
        state.db, state.broker, actor, _after(request, query),
        heartbeat=state.settings.stream_heartbeat_seconds))
