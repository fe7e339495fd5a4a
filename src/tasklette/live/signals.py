"""Closing every event stream the moment the server is told to stop.

uvicorn waits for open responses before it shuts down, and an event stream never
ends by itself. So SIGTERM and SIGINT first close the broker (each stream then
sends a `stream.closed` frame and ends: clients reconnect elsewhere or later),
then reach uvicorn's own handler as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from tasklette.live.broker import Broker

REASON = "the server is shutting down"


def close_streams_on_signals(broker: Broker) -> Callable[[], None]:
    """Chain a stream-closing step before the current SIGTERM/SIGINT handlers.

    Returns how to undo it. Only the main thread may set signal handlers; elsewhere
    (a server run in a thread, as the tests do) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(broker.close_all, REASON)
        chained = previous.get(signum)
        if callable(chained):
            chained(signum, frame)

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)

    def undo() -> None:
        for signum, old in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                if signal.getsignal(signum) is handler:
                    signal.signal(signum, old)

    return undo
