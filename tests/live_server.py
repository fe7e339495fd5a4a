"""`tasklette serve` in a subprocess: for browser tests and tests across processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _child_env() -> dict[str, str]:
    """The environment without TASKLETTE_* settings: the server takes only our flags."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith("TASKLETTE_")}


class LiveServer:
    """`python -m tasklette serve` in a subprocess, on a free port and its own data dir."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.args = args  # more `tasklette serve` options, e.g. --database
        self.env = env or {}  # TASKLETTE_* settings that have no flag
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.port = 0
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, port: int | None = None) -> LiveServer:
        """Start on a free port, or on `port` (to restart where browsers will reconnect)."""
        for _ in range(3):  # another process may take the free port before the server does
            self.port = port or free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "tasklette", "serve", "--host", "127.0.0.1",
                     "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env={**_child_env(), **self.env})
            if self._wait_until_up():
                return self
            self.stop()
        raise RuntimeError(f"tasklette serve did not start:\n{self.log()}")

    def _wait_until_up(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                try:
                    if client.get(self.url + "/healthz").status_code == 200:
                        return self._process.poll() is None  # ours, not another's
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing finished (as a power cut, for the database)."""
        assert self._process is not None
        self._process.kill()
        self._process.wait(timeout=15)
        self._process = None

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
        self._process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""
