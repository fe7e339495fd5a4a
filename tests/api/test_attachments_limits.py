"""Uploads that must leave nothing behind: over a limit, cut off, or killed with the server."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklette.settings import Settings
from tests.api.test_attachments import (
    BOUNDARY,
    attachment_rows,
    multipart,
    new_task,
    spools,
)
from tests.conftest import Server, User, free_port


@pytest.fixture
def limits(server: Server) -> Iterator[Callable[..., None]]:
    """limits(max_file_bytes=..., max_request_bytes=...): smaller limits for one test."""
    original: Settings = server.app.state.settings

    def set_limits(max_file_bytes: int, max_request_bytes: int) -> None:
        server.app.state.settings = original.replace(
            attachment_max_file_bytes=max_file_bytes,
            attachment_max_request_bytes=max_request_bytes)

    yield set_limits
    server.app.state.settings = original


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {what}")
        time.sleep(0.02)


class RawUpload:
    """An upload over a bare socket: headers, then as much of the body as a test wants."""

    def __init__(self, port: int, token: str, task_id: int, body_length: int | None,
                 chunked: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.chunked = chunked
        head = (f"POST /api/v1/tasks/{task_id}/attachments HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n")
        head += "Transfer-Encoding: chunked\r\n" if chunked else \
            f"Content-Length: {body_length}\r\n"
        self.sock.sendall((head + "\r\n").encode())

    def send(self, data: bytes) -> None:
        if self.chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self.sock.sendall(data)

    def response(self) -> tuple[int, str]:
        """The status and body of the answer, read without sending anything more."""
        received = b""
        while b"\r\n\r\n" not in received:
            received += self.sock.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += self.sock.recv(65536)
        return int(head.split(b" ")[1]), body.decode()

    def close(self) -> None:
        self.sock.close()


def _start_of_body(size: int) -> bytes:
    return multipart(("file", "big.bin", os.urandom(size)))


def test_a_file_over_the_limit_is_refused_while_it_streams(
        server: Server, owner: User, project: dict[str, Any],
        limits: Callable[..., None]) -> None:
    limits(max_file_bytes=64 * 1024, max_request_bytes=8 * 1024 * 1024)
    task = new_task(owner, project)
    body = _start_of_body(4 * 1024 * 1024)
    upload = RawUpload(server.port, owner.token, task["id"], len(body))
    try:
        upload.send(body[:256 * 1024])  # a sixteenth of what the headers announced
        status, detail = upload.response()
    finally:
        upload.close()
    assert status == 413
    assert "over the limit of 65536 bytes per file" in detail
    wait_until(lambda: spools(server) == [], "the partial file to be removed")
    assert attachment_rows(server, task["id"]) == []


def test_a_request_over_the_limit_is_refused_while_it_streams(
        server: Server, owner: User, project: dict[str, Any],
        limits: Callable[..., None]) -> None:
    limits(max_file_bytes=1024 * 1024, max_request_bytes=256 * 1024)
    task = new_task(owner, project)
    body = multipart(*[("file", f"{i}.bin", os.urandom(100 * 1024)) for i in range(3)])
    upload = RawUpload(server.port, owner.token, task["id"], None, chunked=True)
    try:
        for start in range(0, 300 * 1024, 16 * 1024):  # not the end: no closing chunk
            upload.send(body[start:start + 16 * 1024])
        status, detail = upload.response()
    finally:
        upload.close()
    assert status == 413
    assert "request body is over the limit of 262144 bytes" in detail
    wait_until(lambda: spools(server) == [], "the partial files to be removed")
    assert attachment_rows(server, task["id"]) == []


def test_a_declared_length_over_the_limit_is_refused_before_reading(
        server: Server, owner: User, project: dict[str, Any],
        limits: Callable[..., None]) -> None:
    limits(max_file_bytes=1024, max_request_bytes=10_000)
    task = new_task(owner, project)
    upload = RawUpload(server.port, owner.token, task["id"], 10_001)
    try:
        status, detail = upload.response()  # not a byte of the body was sent
    finally:
        upload.close()
    assert status == 413
    assert "10001 bytes" in detail and "limit of 10000 bytes" in detail
    over = owner.client.post(f"/api/v1/tasks/{task['id']}/attachments",
                             files={"file": ("small.txt", b"x" * 2000)})
    assert over.status_code == 413
    assert over.headers["content-type"] == "application/problem+json"
    assert attachment_rows(server, task["id"]) == []
    assert spools(server) == []


def test_a_client_that_disconnects_mid_upload_leaves_nothing(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    task = new_task(owner, project)
    body = _start_of_body(4 * 1024 * 1024)
    events_before = server.sql("SELECT COUNT(*) AS n FROM events")[0]["n"]
    upload = RawUpload(server.port, owner.token, task["id"], len(body))
    try:
        upload.send(body[:len(body) // 2])
        wait_until(lambda: len(spools(server)) == 1, "the upload to reach the disk")
    finally:
        upload.close()
    wait_until(lambda: spools(server) == [], "the partial file to be removed")
    assert attachment_rows(server, task["id"]) == []
    assert server.sql("SELECT COUNT(*) AS n FROM events")[0]["n"] == events_before
    # The server is none the worse for it.
    again = owner.client.post(f"/api/v1/tasks/{task['id']}/attachments",
                              files={"file": ("after.txt", b"fine")})
    assert again.status_code == 201


# --- a server killed mid-upload -------------------------------------------------------------


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("TASKLETTE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tasklette", "serve", "--port", str(port), "--data-dir",
         str(data_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("tasklette serve did not start")
        time.sleep(0.05)


def _cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tasklette", *args, "--data-dir",
                           str(data_dir)], capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout.strip()


def test_a_crash_mid_upload_leaves_no_row_and_its_file_is_swept_at_start(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _cli(data_dir, "user", "create", "crash", "--password", "crash test password")
    token = _cli(data_dir, "token", "create", "crash")
    port = free_port()
    process = _serve(data_dir, port)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
        project = client.post("/api/v1/projects", json={"name": "Crash"}).json()
        task = client.post(f"/api/v1/projects/{project['id']}/tasks",
                           json={"title": "Doomed upload"}).json()
        client.close()
        body = _start_of_body(8 * 1024 * 1024)
        upload = RawUpload(port, token, task["id"], len(body))
        upload.send(body[:len(body) // 2])
        tmp = data_dir / "blobs" / "tmp"
        wait_until(lambda: any(tmp.iterdir()), "the upload to reach the disk")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        upload.close()
        assert len(list(tmp.iterdir())) == 1  # what the crash left
        process = _serve(data_dir, port)
        assert list(tmp.iterdir()) == []  # swept at start-up
        db = sqlite3.connect(f"file:{data_dir / 'tasklette.db'}?mode=ro", uri=True)
        try:
            assert db.execute("SELECT COUNT(*) FROM attachments").fetchone() == (0,)
        finally:
            db.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
