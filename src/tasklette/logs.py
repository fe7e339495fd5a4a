"""Logging: one line per request with its id, as text or as JSON (`TASKLETTE_LOG_FORMAT`).

Every request gets an id: the client's `X-Request-ID` when it sends a sane one (a
proxy's, say), otherwise a new one. It is sent back in the response's
`X-Request-ID` and stamped on every log record written while the request is
served, so an error in the log can be matched to the request that caused it.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access = logging.getLogger("tasklette.access")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (the request being served, or '-')."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.__dict__.pop("color_message", None)  # uvicorn's terminal-coloured copy
        return True


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for Tasklette and uvicorn, as text or JSON."""
    if fmt == "json":
        formatter: dict[str, Any] = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: "
                               "%(message)s"}
    handler = {"class": "logging.StreamHandler", "formatter": "default",
               "filters": ["request_id"], "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            # uvicorn's own handlers are replaced by ours; its access log by ours below.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


class RequestLog:
    """Gives each request an id and, when `access_log` is on, logs it as it ends."""

    def __init__(self, app: ASGIApp, *, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _SANE_ID.fullmatch(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log:
                access.info("%s %s %d %.1fms", scope["method"], scope["path"], status,
                            (time.perf_counter() - started) * 1000, extra={
                                "method": scope["method"], "path": scope["path"],
                                "status": status,
                                "duration_ms": round((time.perf_counter() - started) * 1000,
                                                     1),
                                "client": (scope.get("client") or ("-",))[0]})
            request_id.reset(token)
