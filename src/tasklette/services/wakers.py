"""Callbacks of this process to call after a commit: what wakes its followers of a table."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Wakers:
    """A set of wake-up callbacks, added and removed from any thread, all called at once."""

    def __init__(self) -> None:
        self._wakers: set[Callable[[], None]] = set()
        self._lock = threading.Lock()

    def add(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._wakers.add(wake)

    def remove(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._wakers.discard(wake)

    def wake(self) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for wake in wakers:
            wake()
