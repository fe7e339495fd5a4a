"""The `tasklette` command, run as a user runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tasklette.settings import SETTINGS_TABLE
from tests.conftest import Server, free_port

ROOT = Path(__file__).resolve().parent.parent


def tasklette(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tasklette", *args], input=input,
                          capture_output=True, text=True, timeout=60)


def test_users_and_tokens(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    created = tasklette("user", "create", "Ana", "--display-name", "Ana Lima", *data,
                        input="a good password\na good password\n")
    assert created.returncode == 0, created.stderr
    assert "Created user ana" in created.stdout
    taken = tasklette("user", "create", "ana", "--password", "another password", *data)
    assert taken.returncode == 1
    assert "taken" in taken.stderr
    short = tasklette("user", "create", "bob", "--password", "short", *data)
    assert short.returncode == 1 and "at least 8" in short.stderr
    listed = tasklette("user", "list", *data)
    assert "ana" in listed.stdout and "Ana Lima" in listed.stdout

    token = tasklette("token", "create", "ana", "--name", "laptop", *data)
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert secret.startswith("tsk_")
    assert "not shown again" in token.stderr
    assert "laptop" in tasklette("token", "list", "ana", *data).stdout
    assert tasklette("token", "revoke", "ana", "1", *data).returncode == 0
    assert "revoked" in tasklette("token", "list", "ana", *data).stdout
    assert tasklette("token", "revoke", "ana", "99", *data).returncode == 1

    changed = tasklette("user", "set-password", "ana", "--password", "a new password", *data)
    assert changed.returncode == 0, changed.stderr
    missing = tasklette("user", "set-password", "zed", "--password", "a new password", *data)
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_migrate_and_config(tmp_path: Path) -> None:
    first = tasklette("migrate", "--data-dir", str(tmp_path))
    assert first.returncode == 0 and "Applied migrations 1" in first.stdout
    assert "up to date" in tasklette("migrate", "--data-dir", str(tmp_path)).stdout
    config = tasklette("config", "--data-dir", str(tmp_path))
    for setting in SETTINGS_TABLE:
        assert f"{setting.name} = " in config.stdout
        assert setting.env_var in config.stdout


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS_TABLE:
        assert setting.env_var in readme, setting.env_var


def test_serve_answers_and_stops(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tasklette", "serve", "--port", str(port), "--data-dir",
         str(tmp_path / "data")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.json() == {"status": "ok"}
        assert (tmp_path / "data" / "tasklette.db").exists()
        home = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True)
        assert "Welcome to Tasklette" in home.text  # no users yet: first-run setup
        assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    # uvicorn re-raises SIGTERM after a graceful shutdown, so the exit status is -15.
    assert process.returncode in (0, -15)
    assert "Application shutdown complete" in output


def test_backup_copies_a_live_database(tmp_path: Path) -> None:
    server = Server(tmp_path / "data").start()
    stop = threading.Event()
    try:
        made = tasklette("user", "create", "ana", "--password", "a good password",
                         "--data-dir", str(tmp_path / "data"))
        assert made.returncode == 0, made.stderr
        secret = tasklette("token", "create", "ana", "--data-dir",
                           str(tmp_path / "data")).stdout.strip()
        client = httpx.Client(base_url=server.base_url,
                              headers={"Authorization": f"Bearer {secret}"})
        project = client.post("/api/v1/projects", json={"name": "Kept"}).json()

        def keep_writing() -> None:  # the server is in use while it is backed up
            while not stop.is_set():
                client.post(f"/api/v1/projects/{project['id']}/tasks", json={"title": "w"})

        writer = threading.Thread(target=keep_writing)
        writer.start()
        time.sleep(0.2)
        copy = tmp_path / "backup.db"
        done = tasklette("backup", str(copy), "--data-dir", str(tmp_path / "data"))
        stop.set()
        writer.join()
        client.close()
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT name FROM projects").fetchall() == [("Kept",)]
            assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] > 0
        again = tasklette("backup", str(copy), "--data-dir", str(tmp_path / "data"))
        assert again.returncode == 1 and "--force" in again.stderr
    finally:
        stop.set()
        server.stop()
    on_postgres = subprocess.run(
        [sys.executable, "-m", "tasklette", "backup", str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "TASKLETTE_DATABASE_URL": "postgresql://h/db"})
    assert on_postgres.returncode == 1 and "pg_dump" in on_postgres.stderr


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    refused = tasklette("serve", "--workers", "2", "--data-dir", str(tmp_path),
                        "--port", str(free_port()))
    assert refused.returncode == 1
    assert "need PostgreSQL" in refused.stderr


def test_numbers_on_the_command_line_are_ascii_digits(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert tasklette("user", "create", "ana", *data,
                     input="a good password\na good password\n").returncode == 0
    for odd in ("\u0661", "²", "1_0", "+1"):  # click's int() took Arabic-Indic digits and more
        refused = tasklette("token", "revoke", "ana", odd, *data)
        assert refused.returncode == 2 and "is not a whole number" in refused.stderr, odd
