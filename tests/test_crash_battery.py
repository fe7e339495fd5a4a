"""Crash battery: `tasklette serve` killed with SIGKILL again and again, mid-write and
mid-upload, loses no acknowledged write and leaves no corruption behind."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tasklette.services import tokens, users
from tasklette.services.permissions import Actor
from tasklette.settings import load_settings
from tasklette.storage.open import connect
from tasklette.storage.postgres import to_numbered
from tests.conftest import BACKENDS, POSTGRES_URL, _admin, run_sync
from tests.live_server import LiveServer

# 5 kills per engine keeps CI under a minute each; set it higher to soak (15 lost nothing).
KILLS = int(os.environ.get("TASKLETTE_TEST_CRASH_KILLS", "5"))
WRITERS = 8  # threads creating tasks and comments and moving tasks; one more uploads
SEED = 13
MIB = 1024 * 1024
CHUNK = 256 * 1024
SPOOLED = 2 * MIB  # received bytes of an upload surely in its spool (batches are 1 MiB)
PASSWORD = "crash battery 1843"


@dataclass
class Instance:
    """Where the server keeps its data: a data directory, and a PostgreSQL URL or none."""

    data_dir: Path
    url: str  # "" for SQLite in data_dir

    def args(self) -> tuple[str, ...]:
        return ("--database", self.url) if self.url else ()

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows read straight from the database by a connection of our own."""
        if self.url:
            return run_sync(self._postgres(query, params))
        conn = sqlite3.connect(f"file:{self.data_dir / 'tasklette.db'}?mode=ro", uri=True)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    async def _postgres(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(self.url)
        try:
            return [tuple(r) for r in await conn.fetch(to_numbered(query), *params)]
        finally:
            await conn.close()


@pytest.fixture(params=BACKENDS)
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """A fresh, empty database of each engine."""
    if request.param == "sqlite":
        yield Instance(tmp_path / "data", "")
        return
    name = f"tasklette_crash_{os.getpid()}"
    run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield Instance(tmp_path / "data", POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Acknowledged:
    """What the server answered 2xx to, kept by the clients, and what went wrong."""

    tasks: dict[int, str] = field(default_factory=dict)  # id -> title
    comments: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> task, body
    attachments: dict[int, tuple[int, str, int]] = field(default_factory=dict)  # task, sha, size
    contents: list[bytes] = field(default_factory=list)  # uploaded, to send again (dedup)
    verified: set[str] = field(default_factory=set)  # blobs whose bytes were hashed
    cut_off: int = 0  # requests in flight when the server was killed
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Cycle:
    """One life of the server: writers and an uploader until it is killed."""

    def __init__(self, url: str, token: str, project: dict[str, Any], files_task: int,
                 acked: Acknowledged, number: int) -> None:
        self.url, self.token, self.project = url, token, project
        self.files_task, self.acked, self.number = files_task, acked, number
        self.armed = threading.Event()  # the kill is due: the next upload waits half-sent
        self.half_sent = threading.Event()
        self.killed = threading.Event()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.token}"})

    def _answered(self, response: httpx.Response, expected: int) -> bool:
        if response.status_code == expected:
            return True
        with self.acked.lock:
            self.acked.errors.append(f"{response.request.method} {response.request.url.path}"
                                     f" -> {response.status_code}: {response.text[:300]}")
        return False

    def _cut(self, exc: httpx.TransportError) -> None:
        with self.acked.lock:
            if self.killed.is_set():
                self.acked.cut_off += 1
            else:
                self.acked.errors.append(f"connection failed before the kill: {exc!r}")

    def writer(self, n: int) -> None:
        rng = random.Random(f"{SEED}-{self.number}-{n}")
        pid, columns = self.project["id"], self.project["columns"]
        with self.acked.lock:
            mine = [t for t, title in self.acked.tasks.items() if title.endswith(f" w{n}")]
        with self.client() as client:
            for i in itertools.count():
                if self.killed.is_set():
                    return
                action = rng.random()
                try:
                    if action < 0.5 or not mine:
                        title = f"c{self.number} #{i} w{n}"
                        response = client.post(f"/api/v1/projects/{pid}/tasks", json={
                            "title": title, "column_id": rng.choice(columns)})
                        if self._answered(response, 201):
                            mine.append(response.json()["id"])
                            with self.acked.lock:
                                self.acked.tasks[mine[-1]] = title
                    elif action < 0.85:
                        task_id, body = rng.choice(mine), f"comment c{self.number} #{i} w{n}"
                        response = client.post(f"/api/v1/tasks/{task_id}/comments",
                                               json={"body": body})
                        if self._answered(response, 201):
                            with self.acked.lock:
                                self.acked.comments[response.json()["id"]] = (task_id, body)
                    else:
                        response = client.post(f"/api/v1/tasks/{rng.choice(mine)}/move", json={
                            "column_id": rng.choice(columns), "position": rng.randint(0, 20)})
                        self._answered(response, 200)
                except httpx.TransportError as exc:
                    self._cut(exc)
                    return

    def uploader(self) -> None:
        rng = random.Random(f"{SEED}-{self.number}-upload")
        with self.client() as client:
            while not self.killed.is_set():
                with self.acked.lock:
                    earlier = list(self.acked.contents)
                if earlier and rng.random() < 0.2:
                    data = rng.choice(earlier)  # the same bytes again: stored once
                else:
                    data = rng.randbytes(rng.randint(1, 8) * MIB)
                boundary = f"crash{rng.getrandbits(64):x}"
                head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                        f"filename=\"f{self.number}.bin\"\r\nContent-Type: "
                        "application/octet-stream\r\n\r\n").encode()
                tail = f"\r\n--{boundary}--\r\n".encode()
                try:
                    response = client.post(
                        f"/api/v1/tasks/{self.files_task}/attachments",
                        content=self._body(head, data, tail),
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                 "Content-Length": str(len(head) + len(data) + len(tail))})
                except httpx.TransportError as exc:
                    self._cut(exc)
                    return
                if self._answered(response, 201):
                    (row,) = response.json()
                    sha256 = hashlib.sha256(data).hexdigest()
                    with self.acked.lock:
                        if row["sha256"] != sha256 or row["size"] != len(data):
                            self.acked.errors.append(f"upload stored as {row}, sent {sha256}")
                        self.acked.attachments[row["id"]] = (self.files_task, sha256,
                                                             len(data))
                        self.acked.contents.append(data)

    def _body(self, head: bytes, data: bytes, tail: bytes) -> Iterator[bytes]:
        yield head
        for start in range(0, len(data), CHUNK):
            if start >= len(data) // 2 >= SPOOLED and self.armed.is_set() \
                    and not self.half_sent.is_set():
                # The kill lands while this upload is half sent, its spool half written.
                self.half_sent.set()
                self.killed.wait(5)
            yield data[start:start + CHUNK]
        yield tail


def test_sigkill_during_writes_and_uploads_loses_no_acknowledged_write(
        instance: Instance) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    token = _user_and_token(instance)
    server = LiveServer(instance.data_dir, *instance.args()).start()
    acked = Acknowledged()
    spools_left_by_kills = 0
    try:
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            made = client.post("/api/v1/projects", json={"name": "Crash"}).json()
            columns = [c["id"] for c in
                       client.get(f"/api/v1/projects/{made['id']}/columns").json()]
            files_task = client.post(f"/api/v1/projects/{made['id']}/tasks",
                                     json={"title": "files"}).json()["id"]
        project = {"id": made["id"], "columns": columns}
        for number in range(KILLS):
            cycle = Cycle(server.url, token, project, files_task, acked, number)
            threads = [threading.Thread(target=cycle.writer, args=(n,))
                       for n in range(WRITERS)]
            threads.append(threading.Thread(target=cycle.uploader))
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(1.5, 3.0))
            cycle.armed.set()
            assert cycle.half_sent.wait(10), "no upload reached its middle"
            time.sleep(rng.uniform(0.1, 0.4))  # the server takes in what was sent
            cycle.killed.set()
            server.kill()
            for thread in threads:
                thread.join(timeout=30)
            assert acked.errors == [], f"before kill {number + 1}"
            spools_left_by_kills += len(list((instance.data_dir / "blobs" / "tmp").iterdir()))

            server.start()
            _check(instance, acked, f"after kill {number + 1}")
    finally:
        server.stop()

    assert acked.errors == []
    # The kills did cut writes and uploads short, so the checks above meant something.
    assert acked.cut_off >= KILLS
    assert spools_left_by_kills >= 1
    assert len(acked.tasks) > KILLS * WRITERS and acked.comments and acked.attachments
    print(f"\n{instance.url or 'SQLite'}: {KILLS} kills in {time.monotonic() - started:.1f} s, "
          f"{len(acked.tasks)} tasks, {len(acked.comments)} comments, "
          f"{len(acked.attachments)} uploads acknowledged; {acked.cut_off} requests cut off, "
          f"{spools_left_by_kills} spools left by kills")


def _user_and_token(instance: Instance) -> str:
    """A user and an API token, written before the server first starts."""

    async def make() -> str:
        settings = load_settings(environ={}, data_dir=instance.data_dir,
                                 database_url=instance.url or None)
        db = await connect(settings)
        try:
            row = await users.create(db, "ada", PASSWORD)
            _, secret = await tokens.create(db, Actor(row["id"], "ada", "ada"), "crash")
            return secret
        finally:
            await db.close()

    return run_sync(make())


def _check(instance: Instance, acked: Acknowledged, when: str) -> None:
    """Every acknowledged write is there, and the data is whole, after a restart."""
    sql = instance.rows
    tasks = dict(sql("SELECT id, title FROM tasks"))
    lost_tasks = {i: t for i, t in acked.tasks.items() if tasks.get(i) != t}
    assert lost_tasks == {}, f"{when}: acknowledged tasks lost"
    comments = {r[0]: (r[1], r[2]) for r in sql("SELECT id, task_id, body FROM comments")}
    lost_comments = {i: c for i, c in acked.comments.items() if comments.get(i) != c}
    assert lost_comments == {}, f"{when}: acknowledged comments lost"
    attachments = {r[0]: (r[1], r[2], r[3])
                   for r in sql("SELECT id, task_id, sha256, size FROM attachments")}
    lost_uploads = {i: a for i, a in acked.attachments.items() if attachments.get(i) != a}
    assert lost_uploads == {}, f"{when}: acknowledged uploads lost"

    # Every attachment row, acknowledged or not, has its file with the right bytes.
    blobs = instance.data_dir / "blobs"
    for attachment_id, (_, sha256, size) in attachments.items():
        path = blobs / "sha256" / sha256[:2] / sha256[2:4] / sha256
        assert path.is_file(), f"{when}: attachment {attachment_id} has no file"
        assert path.stat().st_size == size
        if sha256 not in acked.verified:  # blobs are never written again once in place
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, \
                f"{when}: attachment {attachment_id}'s file does not hold its bytes"
            acked.verified.add(sha256)
    assert list((blobs / "tmp").iterdir()) == [], f"{when}: spools not swept at start-up"

    if not instance.url:
        assert sql("PRAGMA integrity_check") == [("ok",)], when
        assert sql("PRAGMA foreign_key_check") == [], when
        unindexed = "SELECT COUNT(*) FROM tasks WHERE id NOT IN (SELECT rowid FROM task_search)"
    else:
        _check_postgres_indexes(instance, when)
        unindexed = ("SELECT COUNT(*) FROM tasks WHERE id NOT IN "
                     "(SELECT task_id FROM task_search)")
    assert sql(unindexed) == [(0,)], f"{when}: a task is missing from the search index"
    for name, query in INVARIANTS.items():
        assert sql(query) == [(0,)], f"{when}: {name}"


# What the schema does not enforce by itself, but every write keeps: each is a count of
# the rows that break it.
INVARIANTS = {
    "a task sits in a column of another project": (
        "SELECT COUNT(*) FROM tasks t JOIN columns c ON c.id = t.column_id "
        "WHERE c.project_id <> t.project_id"),
    "two columns of a project share a position, or positions have gaps": (
        "SELECT COUNT(*) FROM (SELECT project_id, COUNT(*) AS n, "
        "COUNT(DISTINCT position) AS d, MIN(position) AS lo, MAX(position) AS hi "
        "FROM columns GROUP BY project_id) AS p WHERE d <> n OR lo <> 0 OR hi <> n - 1"),
    "a project has no owner": (
        "SELECT COUNT(*) FROM projects p WHERE NOT EXISTS (SELECT 1 FROM project_members m "
        "WHERE m.project_id = p.id AND m.role = 'owner')"),
    "a task has no task.created event": (
        "SELECT COUNT(*) FROM tasks WHERE id NOT IN "
        "(SELECT entity_id FROM events WHERE kind = 'task.created')"),
    "a comment has no comment.created event": (
        "SELECT COUNT(*) FROM comments WHERE id NOT IN "
        "(SELECT entity_id FROM events WHERE kind = 'comment.created')"),
    "an attachment has no attachment.added event": (
        "SELECT COUNT(*) FROM attachments WHERE id NOT IN "
        "(SELECT entity_id FROM events WHERE kind = 'attachment.added')"),
    "a task.moved event for a task never created": (
        "SELECT COUNT(*) FROM events WHERE kind = 'task.moved' AND entity_id NOT IN "
        "(SELECT entity_id FROM events WHERE kind = 'task.created')"),
}


def _check_postgres_indexes(instance: Instance, when: str) -> None:
    """amcheck: every B-tree index is well formed and holds every row of its table."""
    instance.rows("CREATE EXTENSION IF NOT EXISTS amcheck")
    checked = instance.rows(
        "SELECT c.relname, bt_index_check(c.oid, true) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE am.amname = 'btree' AND n.nspname = 'public'")
    assert len(checked) >= 10, f"{when}: {checked}"
