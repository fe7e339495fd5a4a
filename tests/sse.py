"""A small Server-Sent Events client for tests: a real HTTP stream read in a thread."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Frame:
    event: str
    data: Any
    id: int | None = None
    comment: bool = False


@dataclass
class Stream:
    """Collects frames from `url` as they arrive; `next()` waits for the next one."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    ended: bool = False

    def __post_init__(self) -> None:
        self._frames: queue.Queue[Frame | None] = queue.Queue()
        self._started = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=None))
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise TimeoutError(f"no response from {self.url}")

    def _read(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as response:
                self._response = response
                self.status = response.status_code
                self.body = b""
                if response.status_code != 200:
                    self.body = response.read()
                    return
                self._started.set()
                frame: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self._frames.put(Frame("", line[1:].strip(), comment=True))
                    elif line == "":
                        if frame:
                            self._frames.put(Frame(
                                frame.get("event", "message"), json.loads(frame["data"])
                                if "data" in frame else None,
                                int(frame["id"]) if "id" in frame else None))
                        frame = {}
                    else:
                        name, _, value = line.partition(":")
                        frame[name] = value[1:] if value.startswith(" ") else value
        except (httpx.HTTPError, RuntimeError, ValueError):
            pass
        finally:
            self.ended = True
            self._started.set()
            self._frames.put(None)

    def next(self, timeout: float = 5) -> Frame | None:
        """The next frame (comments included); None once the stream has ended."""
        try:
            frame = self._frames.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no frame from {self.url} within {timeout}s") from None
        if frame is None:
            self._frames.put(None)  # stay ended for later calls
        return frame

    def events(self, count: int, timeout: float = 5) -> list[Frame]:
        """The next `count` event frames (with an id), skipping presence and heartbeats."""
        found: list[Frame] = []
        while len(found) < count:
            frame = self.next(timeout)
            if frame is None:
                raise AssertionError(f"the stream ended after {len(found)} of {count} events")
            if frame.id is not None:
                found.append(frame)
        return found

    def until(self, event: str, timeout: float = 5) -> Frame:
        """Skip frames until one of kind `event` arrives."""
        while True:
            frame = self.next(timeout)
            if frame is None:
                raise AssertionError(f"the stream ended before a {event!r} frame")
            if frame.event == event:
                return frame

    def quiet(self, seconds: float = 0.5) -> list[Frame]:
        """The event frames (with an id) that arrive within `seconds`."""
        found: list[Frame] = []
        while True:
            try:
                frame = self._frames.get(timeout=seconds)
            except queue.Empty:
                return found
            if frame is None:
                self._frames.put(None)
                return found
            if frame.id is not None:
                found.append(frame)

    def close(self) -> None:
        """Hang up, as a closed browser tab does (the server sees the disconnect)."""
        if self._response is not None and not self.ended:
            stream = self._response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._client.close()
