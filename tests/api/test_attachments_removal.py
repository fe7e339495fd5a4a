"""Deleted files go away, and the blob store is never called inside a transaction.

Each test runs on SQLite and PostgreSQL, with files in the data directory and in
moto's S3 server. Deleting an attachment, a task or a project removes the files no
other attachment names, after the grace period (0 s for these servers unless a test
says otherwise); a crash before the removal is made good at the next start; and a
slow bucket holds up no other writer.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklette.services import tokens, users
from tasklette.services.blob_garbage import sweep
from tasklette.services.permissions import Actor
from tests.api.test_attachments import sha256
from tests.blobs.test_s3 import (
    S3Server,
    key_of,
    s3_server,  # noqa: F401 (the fixture behind `s3`)
)
from tests.conftest import BACKENDS, POSTGRES_URL, Server, _admin, eventually, run_sync
from tests.live_server import LiveServer, free_port

_databases = iter(range(1, 10_000))


@dataclass
class Place:
    """Where a test's server keeps its rows and files, to start servers on."""

    data_dir: Path
    settings: dict[str, Any]
    has: Callable[[str], bool]  # is the file of this digest stored?

    def server(self, **more: Any) -> Server:
        return Server(self.data_dir, **{**self.settings, **more}).start()


@pytest.fixture(params=[(b, s) for b in BACKENDS for s in ("local", "s3")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    backend, store = request.param
    data_dir = tmp_path / "data"
    settings: dict[str, Any] = {}
    if store == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket()
        settings.update(s3.settings(bucket))

        def has(digest: str) -> bool:
            return key_of(digest) in s3.keys(bucket)
    else:
        def has(digest: str) -> bool:
            return (data_dir / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest).is_file()
    name = ""
    if backend == "postgresql":
        name = f"tasklette_removal_{os.getpid()}_{next(_databases)}"
        run_sync(_admin(f'CREATE DATABASE "{name}"'))
        settings["database_url"] = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield Place(data_dir, settings, has)
    finally:
        if name:
            run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _client(server: Server, username: str = "ana") -> httpx.Client:
    row = server.call(users.create(server.db, username, "correct horse battery"))
    _, secret = server.call(tokens.create(server.db, Actor(row["id"], username), "tests"))
    return httpx.Client(base_url=server.base_url, timeout=60,
                        headers={"Authorization": f"Bearer {secret}"})


def _project(client: httpx.Client) -> int:
    response = client.post("/api/v1/projects", json={"name": "Files"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _task(client: httpx.Client, pid: int, **more: Any) -> int:
    response = client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t", **more})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _attach(client: httpx.Client, task_id: int, data: bytes) -> dict[str, Any]:
    response = client.post(f"/api/v1/tasks/{task_id}/attachments",
                           files={"file": ("f.bin", data)})
    assert response.status_code == 201, response.text
    return response.json()[0]  # type: ignore[no-any-return]


def test_deleting_a_task_removes_its_and_its_subtasks_files(place: Place) -> None:
    server = place.server()
    try:
        with _client(server) as client:
            pid = _project(client)
            task = _task(client, pid)
            subtask = _task(client, pid, parent_task_id=task)
            mine, the_subtasks, unrelated = (os.urandom(5000) for _ in range(3))
            _attach(client, task, mine)
            _attach(client, subtask, the_subtasks)
            _attach(client, _task(client, pid), unrelated)
            assert client.delete(f"/api/v1/tasks/{task}").status_code == 204
            eventually(lambda: not place.has(sha256(mine)))
            eventually(lambda: not place.has(sha256(the_subtasks)))
            assert place.has(sha256(unrelated))
            # What the sweep leaves: no candidate, a count of one removal each (the sweep
            # records its removal just after the file goes, so wait for that too).
            expected = sorted((sha256(d), None, None, 1) for d in (mine, the_subtasks))

            def swept() -> list[tuple[Any, ...]]:
                rows = server.sql("SELECT sha256, since, removing_since, removals "
                                  "FROM blob_garbage ORDER BY sha256")
                return sorted((r["sha256"], r["since"], r["removing_since"], r["removals"])
                              for r in rows)

            eventually(lambda: swept() == expected)
            assert swept() == expected
    finally:
        server.stop()


def test_a_file_another_task_has_stays_until_that_one_goes_too(place: Place) -> None:
    server = place.server()
    try:
        with _client(server) as client:
            pid = _project(client)
            first, second = _task(client, pid), _task(client, pid)
            data = os.urandom(5000)
            _attach(client, first, data)
            kept = _attach(client, second, data)
            assert client.delete(f"/api/v1/tasks/{first}").status_code == 204
            # A sweep has looked at it (grace 0) and kept it: the other task names it.
            eventually(lambda: not server.sql("SELECT 1 FROM blob_garbage WHERE since "
                                              "IS NOT NULL"))
            assert place.has(sha256(data))
            assert client.get(f"/api/v1/attachments/{kept['id']}").content == data
            assert client.delete(f"/api/v1/tasks/{second}").status_code == 204
            eventually(lambda: not place.has(sha256(data)))
    finally:
        server.stop()


def test_deleting_a_project_removes_its_files(place: Place) -> None:
    server = place.server()
    try:
        with _client(server) as client:
            pid, other = _project(client), _project(client)
            files = [os.urandom(4000) for _ in range(3)]
            for data in files:
                _attach(client, _task(client, pid), data)
            shared = _attach(client, _task(client, other), files[0])
            assert client.delete(f"/api/v1/projects/{pid}").status_code == 204
            eventually(lambda: not place.has(sha256(files[1])))
            eventually(lambda: not place.has(sha256(files[2])))
            assert place.has(sha256(files[0]))  # the other project has it too
            assert client.get(f"/api/v1/attachments/{shared['id']}").content == files[0]
    finally:
        server.stop()


def _serve_env(place: Place) -> dict[str, str]:
    return {f"TASKLETTE_{name.upper()}": str(value) for name, value in place.settings.items()}


def test_a_server_killed_before_removing_a_deleted_file_removes_it_at_the_next_start(
        place: Place) -> None:
    first = place.server()
    with _client(first) as client:
        token = client.headers["authorization"]
    first.stop()
    # A long grace period: the file is still there when the server is killed.
    live = LiveServer(place.data_dir, env={**_serve_env(place),
                                           "TASKLETTE_BLOB_GRACE_SECONDS": "3600"}).start()
    try:
        with httpx.Client(base_url=live.url, timeout=60,
                          headers={"Authorization": token}) as client:
            pid = _project(client)
            task = _task(client, pid)
            data = os.urandom(5000)
            _attach(client, task, data)
            assert client.delete(f"/api/v1/tasks/{task}").status_code == 204
        assert place.has(sha256(data))
    finally:
        live.kill()
    assert place.has(sha256(data))
    again = place.server(blob_grace_seconds=0)
    try:
        eventually(lambda: not place.has(sha256(data)))
    finally:
        again.stop()


def test_uploads_of_the_same_bytes_racing_their_removal_never_lose_a_file(
        place: Place) -> None:
    """Writers attach and delete one file's bytes while sweeps run back to back: every
    attachment row left has its file, and nobody got a 500."""
    server = place.server()
    data = os.urandom(3000)
    statuses: list[int] = []
    stop = threading.Event()
    try:
        with _client(server) as setup:
            pid = _project(setup)
            task_ids = [_task(setup, pid) for _ in range(6)]
            token = setup.headers["authorization"]

        def writer(task_id: int) -> None:
            with httpx.Client(base_url=server.base_url, timeout=60,
                              headers={"Authorization": token}) as client:
                for _ in range(8):
                    response = client.post(f"/api/v1/tasks/{task_id}/attachments",
                                           files={"file": ("same.bin", data)})
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        gone = client.delete(
                            f"/api/v1/attachments/{response.json()[0]['id']}")
                        statuses.append(gone.status_code)

        def sweeper() -> None:
            while not stop.is_set():
                server.call(sweep(server.db, server.app.state.blobs, 0))

        sweeping = threading.Thread(target=sweeper)
        sweeping.start()
        writers = [threading.Thread(target=writer, args=(t,)) for t in task_ids[:4]]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        # Two attachments stay, uploaded while the sweeps go on.
        with httpx.Client(base_url=server.base_url, timeout=60,
                          headers={"Authorization": token}) as client:
            for task_id in task_ids[4:]:
                for _ in range(20):
                    response = client.post(f"/api/v1/tasks/{task_id}/attachments",
                                           files={"file": ("kept.bin", data)})
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        break
        stop.set()
        sweeping.join()
        assert set(statuses) <= {201, 204, 503}, statuses
        rows = server.sql("SELECT COUNT(*) FROM attachments")
        assert rows[0][0] == 2
        server.call(sweep(server.db, server.app.state.blobs, 0))
        assert place.has(sha256(data))
    finally:
        stop.set()
        server.stop()


# --- a slow bucket holds up no other writer --------------------------------------------


class GatedProxy:
    """A TCP relay in front of the S3 server that holds, while the gate is shut, every
    request of the `held` methods (by default HEAD and DELETE, and only once a PUT has
    gone through, so that opening the store and putting a file do). `pending` counts
    requests held at the gate."""

    def __init__(self, upstream_port: int, held: tuple[bytes, ...] = (b"HEAD ", b"DELETE "),
                 after_put: bool = True) -> None:
        self.upstream_port = upstream_port
        self.held, self.after_put = held, after_put
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pending = 0
        self.shut = False
        self._put_seen = False
        self._opened = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._relay, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       gated: bool) -> None:
            try:
                while chunk := await src.read(65536):
                    put = gated and chunk.startswith(b"PUT ")
                    if gated and self.shut and (self._put_seen or not self.after_put) \
                            and chunk.startswith(self.held):
                        self.pending += 1
                        await asyncio.to_thread(self._opened.wait)
                        self.pending -= 1
                    dst.write(chunk)
                    await dst.drain()
                    self._put_seen = self._put_seen or put
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    def shut_gate(self) -> None:
        self._opened.clear()
        self.shut = True

    def open_gate(self) -> None:
        self.shut = False
        self._opened.set()

    def close(self) -> None:
        self.open_gate()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_slow_bucket_holds_up_no_other_writer(backend: str, tmp_path: Path,
                                               s3_server: S3Server) -> None:  # noqa: F811
    proxy = GatedProxy(s3_server.port)
    settings = {**s3_server.settings(s3_server.new_bucket()), "s3_endpoint_url": proxy.url}
    name = ""
    if backend == "postgresql":
        name = f"tasklette_slow_s3_{os.getpid()}_{next(_databases)}"
        run_sync(_admin(f'CREATE DATABASE "{name}"'))
        settings["database_url"] = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    server = Server(tmp_path / "data", **settings).start()
    try:
        with _client(server) as client:
            pid = _project(client)
            task = _task(client, pid)
            proxy.shut_gate()
            # The upload puts its file, then only records it: no call to the bucket is
            # left for the gate to hold.
            data = os.urandom(5000)
            attachment = _attach(client, task, data)
            assert proxy.pending == 0
            # Deleting it: the sweep's DELETE is held at the gate, outside any transaction.
            assert client.delete(f"/api/v1/attachments/{attachment['id']}").status_code == 204
            eventually(lambda: proxy.pending > 0)
            created = client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "meanwhile"})
            assert created.status_code == 201, created.text
            moved = client.post(f"/api/v1/tasks/{task}/move", json={"position": 0})
            assert moved.status_code == 200, moved.text
            assert proxy.pending > 0, "the other writers finished while S3 was still held"
            proxy.open_gate()
            eventually(lambda: key_of(sha256(data)) not in s3_server.keys(settings["s3_bucket"]))
    finally:
        proxy.open_gate()
        server.stop()
        proxy.close()
        if name:
            run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_put_for_an_upload_then_refused_is_removed(backend: str, tmp_path: Path,
                                                          s3_server: S3Server) -> None:  # noqa: F811
    """The task is deleted while its upload's PUT is held: the upload is refused (404)
    after its file was stored, and that file, which no row names, goes too."""
    proxy = GatedProxy(s3_server.port, held=(b"PUT ",), after_put=False)
    bucket = s3_server.new_bucket()
    settings = {**s3_server.settings(bucket), "s3_endpoint_url": proxy.url}
    name = ""
    if backend == "postgresql":
        name = f"tasklette_refused_{os.getpid()}_{next(_databases)}"
        run_sync(_admin(f'CREATE DATABASE "{name}"'))
        settings["database_url"] = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    server = Server(tmp_path / "data", **settings).start()
    try:
        with _client(server) as client:
            task = _task(client, _project(client))
            data = os.urandom(5000)
            proxy.shut_gate()
            answer: list[httpx.Response] = []
            uploading = threading.Thread(target=lambda: answer.append(client.post(
                f"/api/v1/tasks/{task}/attachments", files={"file": ("late.bin", data)})))
            uploading.start()
            eventually(lambda: proxy.pending > 0)
            assert client.delete(f"/api/v1/tasks/{task}").status_code == 204
            proxy.open_gate()
            uploading.join()
            assert answer[0].status_code == 404, answer[0].text
            eventually(lambda: key_of(sha256(data)) not in s3_server.keys(bucket))
            assert server.sql("SELECT COUNT(*) FROM attachments")[0][0] == 0
    finally:
        proxy.open_gate()
        server.stop()
        proxy.close()
        if name:
            run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
