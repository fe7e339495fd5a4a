"""The HTTP response of an event stream: frames as they come, lean enough for thousands.

A stream costs one task besides the request's own: it waits for the client to hang
up and then closes the stream's subscription, which ends the frames. (A generic
streaming response spends several tasks and a timer per send on this; at
thousands of open boards that is most of the memory and much of the time.)
Nothing is compressed or buffered. A client that stops reading is dropped by the
broker once it falls behind; if it still does not take what was sent, the stream
is cut `STUCK_AFTER` seconds later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

STUCK_AFTER = 30.0
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each frame on at once
]


Opened = tuple[AsyncGenerator[bytes, None], Callable[[str], None]]


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, open_stream: Callable[[], Opened]) -> None:
        self.status_code = 200
        self.background = None
        self.raw_headers = list(HEADERS)
        # Called once the response has started: it subscribes, and returns the frames
        # and how to hang up (close the subscription: the frames then end). A HEAD, or
        # a client gone before the headers could be sent, leaves nothing subscribed.
        self.open_stream = open_stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": self.raw_headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        frames, hang_up = self.open_stream()
        watcher = asyncio.ensure_future(self._watch(receive, hang_up))
        try:
            async for frame in frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-send
        finally:
            watcher.cancel()
            hang_up("the stream ended")  # also when cancelled before the first frame
            await frames.aclose()

    @staticmethod
    async def _watch(receive: Receive, hang_up: Callable[[str], None]) -> None:
        with contextlib.suppress(OSError):
            while (await receive())["type"] != "http.disconnect":
                pass
        hang_up("the client disconnected")


def cut_if_stuck(task: asyncio.Task[object] | None) -> None:
    """A dropped subscriber's stream may be stuck sending to a client that reads
    nothing: end it after a grace period unless it ends by itself first."""
    if task is not None and not task.done():
        asyncio.get_running_loop().call_later(STUCK_AFTER, task.cancel)
