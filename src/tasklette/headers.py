"""Security headers on every response, as a pure ASGI middleware (no body buffering)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasklette.numbers import int_or_none
from tasklette.services.errors import ServiceError


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The body length a request's Content-Length declares (None without one).

    A 400 (ServiceError) when it is not ASCII digits: the API and the web forms alike.
    """
    declared = headers.get("content-length")
    if declared is None:
        return None
    length = int_or_none(declared.strip(), max_digits=19)
    if length is None:
        raise ServiceError("the Content-Length header is not a number")
    return length

# Styles may be inline (a label's validated #rrggbb colour); scripts never are.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                if message["status"] == 413:
                    # The rest of the body is not read: without this, uvicorn would read
                    # on to discard it (forever, if it is chunked) to keep the connection.
                    headers["connection"] = "close"
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("content-security-policy", CSP)
                    headers.setdefault("referrer-policy", "same-origin")
                    headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
