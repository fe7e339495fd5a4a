"""Attachments kept in an S3-compatible bucket, end to end: HTTP in, bucket, HTTP out.

The module's `server` (which the conftest's `owner`, `project` and `make_user` use)
keeps its files in a bucket of moto's S3 server, on each database engine. A second
server on the same database and bucket stands for another host.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tasklette.services import tokens, users
from tasklette.services.permissions import Actor
from tests.api.test_attachments import (
    attachment_rows,
    download,
    new_task,
    sha256,
    spools,
    upload,
)
from tests.blobs.test_s3 import (
    S3Server,
    key_of,
    s3_server,  # noqa: F401 (the fixture behind `s3`)
)
from tests.conftest import BACKENDS, POSTGRES_URL, Server, User, eventually, run_sync

MiB = 1024 * 1024


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def s3(request: pytest.FixtureRequest) -> S3Server:
    """moto's S3 server, from tests/blobs/test_s3.py."""
    return request.getfixturevalue("s3_server")  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=BACKENDS)
def hosts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          s3: S3Server) -> Iterator[tuple[Server, Server, str]]:
    """Two servers sharing one database and one bucket (and nothing else, on PostgreSQL)."""
    settings = s3.settings(bucket := s3.new_bucket())
    name = f"tasklette_s3_test_{os.getpid()}"
    if request.param == "postgresql":
        run_sync(_admin(f'CREATE DATABASE "{name}"'))
        settings["database_url"] = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        dirs = [tmp_path_factory.mktemp("host-a"), tmp_path_factory.mktemp("host-b")]
    else:
        dirs = [tmp_path_factory.mktemp("data")] * 2  # one SQLite file, two processes
    first = Server(dirs[0], **settings).start()
    second = Server(dirs[1], **settings).start()
    try:
        yield first, second, bucket
    finally:
        second.stop()
        first.stop()
        if request.param == "postgresql":
            run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def server(hosts: tuple[Server, Server, str]) -> Server:
    """The first host: what the conftest's fixtures create users and projects on."""
    return hosts[0]


def _user_on(server: Server, user: User) -> httpx.Client:
    """A client of `user` on another server of the same database."""
    return httpx.Client(base_url=server.base_url, timeout=60,
                        headers={"Authorization": f"Bearer {user.token}"})


def test_files_go_to_the_bucket_and_come_back_byte_exact(
        hosts: tuple[Server, Server, str], s3: S3Server, owner: User,
        project: dict[str, Any]) -> None:
    server, _, bucket = hosts
    task = new_task(owner, project)
    big = os.urandom(20 * MiB + 3)  # over the 16 MiB part size: a multipart upload
    small = b"%PDF-1.7 small"
    response = upload(owner, task["id"], ("big.bin", big), ("small.pdf", small))
    assert response.status_code == 201, response.text
    created = response.json()
    assert [(c["size"], c["sha256"]) for c in created] == [
        (len(big), sha256(big)), (len(small), sha256(small))]

    keys = s3.keys(bucket)
    assert keys[key_of(sha256(big))] == len(big)
    assert keys[key_of(sha256(small))] == len(small)
    assert s3.uploads(bucket) == []
    assert not (server.settings.data_dir / "blobs" / "sha256").exists()
    assert spools(server) == []
    assert [(r["size"], r["sha256"]) for r in attachment_rows(server, task["id"])] == [
        (len(big), sha256(big)), (len(small), sha256(small))]

    whole = download(owner, created[0]["id"])
    assert whole.status_code == 200 and sha256(whole.content) == sha256(big)
    assert whole.headers["etag"] == f'"{sha256(big)}"'
    start, end = 16 * MiB - 5, 16 * MiB + 5  # across the parts' seam
    ranged = download(owner, created[0]["id"], range=f"bytes={start}-{end - 1}")
    assert ranged.status_code == 206
    assert ranged.content == big[start:end]
    assert ranged.headers["content-range"] == f"bytes {start}-{end - 1}/{len(big)}"
    tail = download(owner, created[1]["id"], range="bytes=-4")
    assert (tail.status_code, tail.content) == (206, small[-4:])
    assert download(owner, created[1]["id"], range="bytes=14-").status_code == 416
    head = owner.client.head(f"/api/v1/attachments/{created[0]['id']}")
    assert head.headers["content-length"] == str(len(big)) and head.content == b""


def test_another_host_serves_dedups_and_deletes_the_same_files(
        hosts: tuple[Server, Server, str], s3: S3Server, owner: User,
        project: dict[str, Any]) -> None:
    server, other, bucket = hosts
    data = os.urandom(300_000)
    first_task, second_task = new_task(owner, project), new_task(owner, project)
    (a,) = upload(owner, first_task["id"], ("a.bin", data)).json()
    with _user_on(other, owner) as elsewhere:
        assert elsewhere.get(f"/api/v1/attachments/{a['id']}",
                             headers={"range": "bytes=1000-1999"}).content == data[1000:2000]
        response = elsewhere.post(f"/api/v1/tasks/{second_task['id']}/attachments",
                                  files={"file": ("b.bin", data)})
        assert response.status_code == 201, response.text
        (b,) = response.json()
        assert b["sha256"] == a["sha256"]
        assert len([k for k in s3.keys(bucket) if k == key_of(sha256(data))]) == 1

        assert elsewhere.delete(f"/api/v1/attachments/{a['id']}").status_code == 204
        assert key_of(sha256(data)) in s3.keys(bucket), "b still names it"
        assert download(owner, b["id"]).content == data
        assert owner.client.delete(f"/api/v1/attachments/{b['id']}").status_code == 204
    eventually(lambda: key_of(sha256(data)) not in s3.keys(bucket))
    kinds = [row["kind"] for row in server.sql(
        "SELECT kind FROM events WHERE entity_type = 'attachment' AND entity_id IN (?, ?) "
        "ORDER BY id", (a["id"], b["id"]))]
    assert kinds == ["attachment.added", "attachment.added", "attachment.deleted",
                     "attachment.deleted"]


# --- tasklette blobs check / gc on a bucket ------------------------------------------------


def _blobs_command(server: Server, command: str) -> subprocess.CompletedProcess[str]:
    """`tasklette blobs COMMAND`, configured by environment variables only."""
    settings = server.settings
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TASKLETTE_", "AWS_"))}
    env.update({"TASKLETTE_DATA_DIR": str(settings.data_dir), "TASKLETTE_BLOB_STORE": "s3",
                "TASKLETTE_S3_ENDPOINT_URL": settings.s3_endpoint_url,
                "TASKLETTE_S3_BUCKET": settings.s3_bucket,
                "TASKLETTE_S3_ACCESS_KEY_ID": settings.s3_access_key_id,
                "TASKLETTE_S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key})
    return subprocess.run([sys.executable, "-m", "tasklette", "blobs", command],
                          capture_output=True, text=True, timeout=120, env=env)


def test_blobs_check_and_gc_work_on_the_bucket(tmp_path: Path, s3: S3Server) -> None:
    bucket = s3.new_bucket()
    server = Server(tmp_path / "data", **s3.settings(bucket)).start()
    try:
        row = server.call(users.create(server.db, "admin", "correct horse battery"))
        _, secret = server.call(tokens.create(server.db, Actor(row["id"], "admin"), "tests"))
        with httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"}) as client:
            project = client.post("/api/v1/projects", json={"name": "Files"}).json()
            task = client.post(f"/api/v1/projects/{project['id']}/tasks",
                               json={"title": "t"}).json()
            kept, corrupted = os.urandom(200_000), os.urandom(200_000)
            response = client.post(f"/api/v1/tasks/{task['id']}/attachments",
                                   files=[("file", ("k.bin", kept)),
                                          ("file", ("c.bin", corrupted))])
            assert response.status_code == 201, response.text
        stray = b"no attachment names these bytes"
        s3.client.put_object(Bucket=bucket, Key=key_of(sha256(stray)), Body=stray)

        healthy = _blobs_command(server, "check")
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert "Checked 3 files: 0 missing, 0 corrupt, 1 unreferenced" in healthy.stdout

        flipped = bytearray(corrupted)
        flipped[100] ^= 0xFF
        s3.client.put_object(Bucket=bucket, Key=key_of(sha256(corrupted)),
                                    Body=bytes(flipped))
        broken = _blobs_command(server, "check")
        assert broken.returncode == 1
        assert f"corrupt: {hashlib.sha256(corrupted).hexdigest()}" in broken.stdout

        collected = _blobs_command(server, "gc")
        assert collected.returncode == 0, collected.stdout + collected.stderr
        assert f"Removed 1 unreferenced files ({len(stray)} bytes); kept 2." in collected.stdout
        assert sorted(s3.keys(bucket)) == sorted(
            key_of(sha256(data)) for data in (kept, corrupted))
    finally:
        server.stop()
