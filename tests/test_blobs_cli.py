"""`tasklette blobs check` and `tasklette blobs gc`, run as an administrator runs them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklette.services import tokens, users
from tasklette.services.permissions import Actor
from tests.conftest import Server


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own: the commands look at every blob it stores."""
    # A long grace period: a deleted task's file stays, unreferenced, for gc to find.
    server = Server(tmp_path / "data", blob_grace_seconds=3600).start()
    yield server
    server.stop()


def _client(server: Server) -> httpx.Client:
    row = server.call(users.create(server.db, "admin", "correct horse battery"))
    _, secret = server.call(tokens.create(server.db, Actor(row["id"], "admin"), "tests"))
    return httpx.Client(base_url=server.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {secret}"})


def blobs(server: Server, command: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("TASKLETTE_")}
    return subprocess.run([sys.executable, "-m", "tasklette", "blobs", command, "--data-dir",
                           str(server.settings.data_dir)], capture_output=True, text=True,
                          timeout=120, env=env)


def blob_path(server: Server, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return server.settings.data_dir / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest


def test_check_finds_missing_and_corrupt_blobs_and_gc_removes_unreferenced(
        own_server: Server) -> None:
    server = own_server
    client = _client(server)
    project = client.post("/api/v1/projects", json={"name": "Files"}).json()
    tasks: list[Any] = [client.post(f"/api/v1/projects/{project['id']}/tasks",
                                    json={"title": title}).json() for title in ("keep", "drop")]
    kept, corrupted, missing, dropped = (os.urandom(300_000) for _ in range(4))
    for task, files in ((tasks[0], (kept, corrupted, missing)), (tasks[1], (dropped,))):
        response = client.post(f"/api/v1/tasks/{task['id']}/attachments",
                               files=[("file", (f"{i}.bin", data)) for i, data in
                                      enumerate(files)])
        assert response.status_code == 201, response.text

    healthy = blobs(server, "check")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "Checked 4 files: 0 missing, 0 corrupt, 0 unreferenced." in healthy.stdout

    # Deleting a task removes its attachments' rows; their blob stays for the grace
    # period, which gc (asked by an administrator) does not wait for.
    assert client.delete(f"/api/v1/tasks/{tasks[1]['id']}").status_code == 204
    flipped = bytearray(corrupted)
    flipped[123_456] ^= 0xFF
    blob_path(server, corrupted).write_bytes(bytes(flipped))
    blob_path(server, missing).unlink()

    broken = blobs(server, "check")
    assert broken.returncode == 1
    assert f"corrupt: {hashlib.sha256(corrupted).hexdigest()}" in broken.stdout
    assert f"missing: {hashlib.sha256(missing).hexdigest()}" in broken.stdout
    assert "Checked 3 files: 1 missing, 1 corrupt, 1 unreferenced" in broken.stdout
    assert "Checking 3 files" in broken.stderr  # the progress bar's label

    collected = blobs(server, "gc")
    assert collected.returncode == 0, collected.stderr
    assert "Removed 1 unreferenced files (300000 bytes); kept 2." in collected.stdout
    assert not blob_path(server, dropped).exists()
    assert blob_path(server, kept).read_bytes() == kept
    listed = client.get(f"/api/v1/tasks/{tasks[0]['id']}/attachments").json()
    assert len(listed) == 3
    client.close()
