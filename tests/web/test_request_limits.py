"""Forms and imports are read with limits: an oversized body is refused at the limit.

The answer must come before the body has been sent (so nothing past the limit is
read, let alone spooled to disk), with a Content-Length and without one (chunked).
These tests talk raw HTTP/1.1 so that they control how much of the body is sent.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Server, _insert_user

BOUNDARY = "tasklettelimits"


def _head(server: Server, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}",
             *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def answer_before_the_end(server: Server, path: str, headers: dict[str, str],
                          sent: bytes) -> tuple[int, bytes]:
    """Send the head and `sent` (a part of the body), then wait for the answer.

    A server that reads the whole body first never answers: the rest is not coming.
    After a 413, the connection must end (the server is not waiting for the rest).
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_head(server, path, headers))
        with contextlib.suppress(OSError):  # the server may have answered and closed
            sock.sendall(sent)
        reply = b""
        try:
            while b"\r\n\r\n" not in reply:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
        except TimeoutError:
            pytest.fail("no answer: the server waits for the rest of the body")
        status = int(reply.split(b" ", 2)[1])
        if status == 413:
            # ... and it does not read on to discard the rest: it closes the connection.
            try:
                while sock.recv(65536):
                    pass
            except TimeoutError:
                pytest.fail("the connection stays open after a 413, for the rest of the body")
            except OSError:
                pass  # reset: closed too
    return status, reply


def _multipart_file_head(name: str = "file", filename: str = "big.bin") -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()


def _multipart_field_head(name: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            ).encode()


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
FIFTY_MB = 50 * 1024 * 1024


def test_a_50_mb_form_to_sign_in_is_refused_before_it_is_read(server: Server) -> None:
    headers = {**MULTIPART, "Content-Length": str(FIFTY_MB)}
    status, reply = answer_before_the_end(server, "/signin", headers,
                                          _multipart_file_head() + b"x" * 65536)
    assert status == 413, reply


@pytest.mark.parametrize("path", ["/signin", "/signup", "/setup"])
def test_a_chunked_form_is_refused_at_the_limit(server: Server, path: str) -> None:
    body = _multipart_field_head("password") + b"x" * 300_000
    status, reply = answer_before_the_end(
        server, path, {**MULTIPART, "Transfer-Encoding": "chunked"}, _chunk(body))
    assert status == 413, reply
    urlencoded = b"username=ana&password=" + b"x" * 300_000
    status, reply = answer_before_the_end(
        server, path, {"Content-Type": "application/x-www-form-urlencoded",
                       "Transfer-Encoding": "chunked"}, _chunk(urlencoded))
    assert status == 413, reply


def test_a_file_where_none_is_expected_is_refused(server: Server) -> None:
    # A small file part: refused before anything is spooled, not read as a field.
    body = (_multipart_file_head("username") + b"ana\r\n" + _multipart_field_head("password")
            + PASSWORD.encode() + f"\r\n--{BOUNDARY}--\r\n".encode())
    before = server.sql("SELECT COUNT(*) FROM sessions")[0][0]
    status, reply = answer_before_the_end(
        server, "/signin", {**MULTIPART, "Content-Length": str(len(body))}, body)
    assert status == 400, reply
    assert server.sql("SELECT COUNT(*) FROM sessions")[0][0] == before


def test_a_signed_in_form_has_limits_too(server: Server, browse: Any) -> None:
    tab = browse()
    cookie = f"tasklette_session={tab.client.cookies['tasklette_session']}"
    headers = {"Cookie": cookie, "Sec-Fetch-Site": "same-origin",
               "Content-Type": "application/x-www-form-urlencoded",
               "Transfer-Encoding": "chunked"}
    before = server.sql("SELECT COUNT(*) FROM projects")[0][0]
    status, reply = answer_before_the_end(server, "/projects", headers,
                                          _chunk(b"name=" + b"x" * 300_000))
    assert status == 413, reply
    # A form with long Markdown text takes more (a task's description, 100,000 characters).
    project = tab.client.post("/api/v1/projects", json={"name": "Limits"}).json()
    task = tab.client.post(f"/api/v1/projects/{project['id']}/tasks",
                           json={"title": "Long"}).json()
    saved = tab.post(f"/tasks/{task['id']}", {
        "title": "Long", "description": "ü" * 100_000, "version": str(task["version"]),
        "priority": "none"})
    assert saved.status_code in (200, 303), saved.text
    description = server.sql("SELECT description FROM tasks WHERE id = ?", (task["id"],))
    assert description[0][0] == "ü" * 100_000
    assert server.sql("SELECT COUNT(*) FROM projects")[0][0] == before + 1


# --- imports ------------------------------------------------------------------------------


@pytest.fixture
def small_imports(tmp_path: Path) -> Iterator[tuple[Server, httpx.Client, str]]:
    """A server whose imports may be 100 kB, and a signed-in browser cookie and token."""
    from tasklette.services import tokens
    from tasklette.services.permissions import Actor

    server = Server(tmp_path, max_import_bytes=100_000).start()
    try:
        row = server.call(_insert_user(server, "importer"))
        _, secret = server.call(tokens.create(
            server.db, Actor(row["id"], row["username"], row["username"]), "tests"))
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            signed_in = client.post("/signin", data={"username": "importer",
                                                     "password": PASSWORD})
            assert signed_in.status_code == 303
            yield server, client, secret
    finally:
        server.stop()


def test_the_import_page_stops_reading_a_chunked_upload_at_the_limit(
        small_imports: tuple[Server, httpx.Client, str]) -> None:
    server, client, _ = small_imports
    headers = {**MULTIPART, "Transfer-Encoding": "chunked", "Sec-Fetch-Site": "same-origin",
               "Cookie": f"tasklette_session={client.cookies['tasklette_session']}"}
    body = _multipart_file_head(filename="board.json") + b" " * 400_000
    status, reply = answer_before_the_end(server, "/projects/import", headers, _chunk(body))
    assert status == 413, reply
    assert server.sql("SELECT COUNT(*) FROM projects")[0][0] == 0
    # Under the limit, chunked still works.
    small = client.post("/projects/import", files={"file": ("b.json", b"{}")},
                        data={"source": "tasklette"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert small.status_code == 422  # read to the end, and refused for what it holds


def test_the_import_api_stops_reading_a_chunked_body_at_the_limit(
        small_imports: tuple[Server, httpx.Client, str]) -> None:
    server, _, secret = small_imports
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json",
               "Transfer-Encoding": "chunked"}
    status, reply = answer_before_the_end(server, "/api/v1/imports/tasklette", headers,
                                          _chunk(b" " * 400_000))
    assert status == 413, reply
    assert b"application/problem+json" in reply

    def generated() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 5_000
        yield b"{}"

    with httpx.Client(base_url=server.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {secret}"}) as api:
        fits = api.post("/api/v1/imports/tasklette", content=generated(),
                        headers={"Content-Type": "application/json"})
    assert fits.status_code == 422, fits.text  # read whole, then refused for what it holds
    assert server.sql("SELECT COUNT(*) FROM projects")[0][0] == 0
