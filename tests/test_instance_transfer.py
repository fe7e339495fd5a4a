"""Moving a whole instance between engines: `tasklette export instance` / `import instance`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tasklette.services import tokens
from tasklette.services.permissions import Actor
from tasklette.storage.instance import ADDED_LATER, NOT_COPIED, TABLES, schema_tables
from tasklette.storage.postgres import to_numbered
from tests.conftest import BACKENDS, POSTGRES_URL, Server, _admin, _insert_user, run_sync


def tasklette(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TASKLETTE_")}
    return subprocess.run([sys.executable, "-m", "tasklette", *args], capture_output=True,
                          text=True, timeout=120, env={**environment, **env})


def populate(server: Server) -> dict[str, Any]:
    """A small but complete instance: people, a project with everything in it, files."""
    made = {}
    for name in ("ana", "ben"):
        row = server.call(_insert_user(server, name))
        _, secret = server.call(tokens.create(server.db, Actor(row["id"], name), "t"))
        made[name] = httpx.Client(base_url=server.base_url, timeout=30,
                                  headers={"Authorization": f"Bearer {secret}"})
    ana = made["ana"]
    project = ana.post("/api/v1/projects", json={"name": "Relaunch",
                                                 "description": "All of it"}).json()
    pid = project["id"]
    assert ana.post(f"/api/v1/projects/{pid}/members",
                    json={"username": "ben", "role": "editor"}).status_code == 201
    label = ana.post(f"/api/v1/projects/{pid}/labels",
                     json={"name": "bug", "color": "#d73a4a"}).json()
    column = ana.get(f"/api/v1/projects/{pid}/columns").json()[1]["id"]
    task = ana.post(f"/api/v1/projects/{pid}/tasks", json={
        "title": "Fix the login", "description": "Cookies *expire*", "column_id": column,
        "label_ids": [label["id"]], "assignees": ["ben"], "priority": "high",
        "due_date": "2026-12-01"}).json()
    ana.post(f"/api/v1/projects/{pid}/tasks",
             json={"title": "Check Safari", "parent_task_id": task["id"]})
    made["ben"].post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "On it — ü"})
    upload = ana.post(f"/api/v1/tasks/{task['id']}/attachments",
                      files=[("file", ("shot.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
                                       "image/png")),
                             ("file", ("notes.txt", "Ünïcode notes\n".encode(), "text/plain"))])
    assert upload.status_code == 201, upload.text
    assert ana.post(f"/api/v1/projects/{pid}/views",
                    json={"name": "Bugs", "query": f"label={label['id']}"}).status_code == 201
    assert ana.post("/api/v1/me/calendar").status_code in (200, 201)
    for client in made.values():
        client.close()
    return {"project_id": pid, "task_id": task["id"]}


def sqlite_rows(path: Path, table: str, key: tuple[str, ...]) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY "
                                              f"{', '.join(key)}")]
    finally:
        conn.close()


def postgres_rows(url: str, table: str, key: tuple[str, ...]) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch(
                to_numbered(f"SELECT * FROM {table} ORDER BY {', '.join(key)}"))]
        finally:
            await conn.close()

    return run_sync(fetch())


def blob_files(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "blobs" / "sha256"
    return {path.name: path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Where the instance moves to: an empty SQLite data dir, or an empty PostgreSQL database."""
    data_dir = str(tmp_path / "target")
    if request.param == "sqlite":
        yield {"--data-dir": data_dir}
        return
    name = f"tasklette_move_{os.getpid()}"
    run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield {"--data-dir": data_dir,
               "--database": POSTGRES_URL.rsplit("/", 1)[0] + "/" + name}
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_an_instance_moves_with_every_row_and_file(tmp_path: Path,
                                                   target: dict[str, str]) -> None:
    source = Server(tmp_path / "source").start()
    try:
        made = populate(source)
    finally:
        source.stop()
    export = tmp_path / "instance.zip"
    exported = tasklette("export", "instance", str(export), "--data-dir",
                         str(tmp_path / "source"))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(export) as archive:
        assert "manifest.json" in archive.namelist()

    options = [part for pair in target.items() for part in pair]
    imported = tasklette("import", "instance", str(export), *options)
    assert imported.returncode == 0, imported.stderr
    assert "Imported" in imported.stdout

    source_db = tmp_path / "source" / "tasklette.db"
    for table, key in TABLES:
        before = sqlite_rows(source_db, table, key)
        after = (postgres_rows(target["--database"], table, key) if "--database" in target
                 else sqlite_rows(Path(target["--data-dir"]) / "tasklette.db", table, key))
        assert after == before, f"{table} differs"
        if table in ("users", "tasks", "comments", "attachments", "events"):
            assert before, f"the test instance should have {table}"
    assert blob_files(Path(target["--data-dir"])) == blob_files(tmp_path / "source")

    # A second import into the now filled instance is refused and changes nothing.
    again = tasklette("import", "instance", str(export), *options)
    assert again.returncode == 1 and "empty" in again.stderr

    # The moved instance works: sign-in tokens, search (rebuilt), and new ids.
    moved = Server(Path(target["--data-dir"]),
                   database_url=target.get("--database", "")).start()
    try:
        _, secret = moved.call(tokens.create(moved.db, Actor(1, "ana"), "after the move"))
        with httpx.Client(base_url=moved.base_url,
                          headers={"Authorization": f"Bearer {secret}"}) as ana:
            found = ana.get("/api/v1/search", params={"q": "cookies"}).json()
            assert [hit["id"] for hit in found["items"]] == [made["task_id"]]
            new = ana.post(f"/api/v1/projects/{made['project_id']}/tasks",
                           json={"title": "After the move"})
            assert new.status_code == 201, new.text
            assert new.json()["id"] > made["task_id"]
            shot = ana.get(f"/api/v1/tasks/{made['task_id']}/attachments").json()
            assert ana.get(f"/api/v1/attachments/{shot[0]['id']}").status_code == 200
    finally:
        moved.stop()


def test_a_file_that_is_not_an_instance_export_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    refused = tasklette("import", "instance", str(junk), "--data-dir", str(tmp_path / "d"))
    assert refused.returncode == 1 and "zip" in refused.stderr
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("manifest.json", '{"format": "tasklette.project"}')
    other = tasklette("import", "instance", str(tmp_path / "other.zip"), "--data-dir",
                      str(tmp_path / "d"))
    assert other.returncode == 1 and "not a Tasklette instance export" in other.stderr
    conn = sqlite3.connect(tmp_path / "d" / "tasklette.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
    finally:
        conn.close()


def test_an_export_made_before_the_later_tables_still_imports(tmp_path: Path) -> None:
    source = Server(tmp_path / "source").start()
    try:
        populate(source)
    finally:
        source.stop()
    export, older = tmp_path / "instance.zip", tmp_path / "older.zip"
    assert tasklette("export", "instance", str(export), "--data-dir",
                     str(tmp_path / "source")).returncode == 0
    later = {f"tables/{table}.jsonl" for table in ADDED_LATER}
    with zipfile.ZipFile(export) as new, zipfile.ZipFile(older, "w") as old:
        assert later <= set(new.namelist())
        for name in new.namelist():
            if name not in later:
                old.writestr(name, new.read(name))
    imported = tasklette("import", "instance", str(older), "--data-dir", str(tmp_path / "d"))
    assert imported.returncode == 0, imported.stderr
    for table, key in TABLES:
        expected = [] if table in ADDED_LATER else sqlite_rows(
            tmp_path / "source" / "tasklette.db", table, key)
        assert sqlite_rows(tmp_path / "d" / "tasklette.db", table, key) == expected, table


def test_every_table_of_the_schema_is_copied_or_known_to_be_derived(server: Server) -> None:
    async def tables() -> set[str]:
        async with server.db.reading() as conn:
            return await schema_tables(conn)

    assert server.call(tables()) == {table for table, _ in TABLES} | NOT_COPIED
