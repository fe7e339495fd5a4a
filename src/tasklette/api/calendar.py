"""The calendar feed: its secret address (API) and the .ics file calendar apps fetch."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tasklette.services import calendar
from tasklette.services.permissions import Actor


def feed_url(request: Request, secret: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/calendar/{secret}.ics"


async def get_calendar(request: Request, actor: Actor) -> Any:
    row = await calendar.status(request.app.state.db, actor)
    return {"active": row is not None, "created_at": row["created_at"] if row else None,
            "url": None}


async def create_calendar(request: Request, actor: Actor) -> Any:
    row, secret = await calendar.regenerate(request.app.state.db, actor)
    return {"active": True, "created_at": row["created_at"], "url": feed_url(request, secret)}


async def delete_calendar(request: Request, actor: Actor) -> None:
    await calendar.turn_off(request.app.state.db, actor)


async def feed(request: Request) -> Response:
    """GET /calendar/{secret}.ics: no session or token, the secret in the address is the key."""
    content = await calendar.feed(request.app.state.db, request.path_params["secret"],
                                  str(request.base_url))
    if content is None:
        return Response("There is no calendar at this address (it may have been "
                        "regenerated).", status_code=404, media_type="text/plain")
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"content-disposition": 'inline; filename="tasklette.ics"',
               "cache-control": "private, max-age=300", "etag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="text/calendar; charset=utf-8", headers=headers)
