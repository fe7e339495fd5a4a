"""Ended sessions and old sign-in failure counts are deleted, not kept forever."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.conftest import Server, _insert_user
from tests.test_cli import tasklette

OLD = "2020-01-01T00:00:00.000000Z"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _plant(conn: sqlite3.Connection, user_id: int) -> None:
    """An idle session and an old failure count, beside a live session and a fresh count."""
    now = _now()
    conn.executemany(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) "
        "VALUES (?, ?, 'csrf', ?, ?)",
        [("idle", user_id, OLD, OLD), ("live", user_id, now, now)])
    conn.executemany(
        "INSERT INTO sign_in_failures (key, failures, window_started_at) VALUES (?, 3, ?)",
        [("user:old", OLD), ("user:fresh", now)])
    conn.commit()


def _left(db_path: Path) -> tuple[list[str], list[str]]:
    conn = sqlite3.connect(db_path)
    try:
        sessions = [row[0] for row in conn.execute("SELECT id_hash FROM sessions")]
        failures = [row[0] for row in conn.execute("SELECT key FROM sign_in_failures")]
    finally:
        conn.close()
    return sorted(sessions), sorted(failures)


def test_the_cli_purges_ended_sessions_and_old_failures(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    created = tasklette("user", "create", "ana", "--password", "a good password", *data)
    assert created.returncode == 0, created.stderr
    conn = sqlite3.connect(tmp_path / "tasklette.db")
    _plant(conn, 1)
    conn.close()
    purged = tasklette("sessions", "purge", *data)
    assert purged.returncode == 0, purged.stderr
    assert "1 ended session" in purged.stdout and "1 old sign-in" in purged.stdout
    assert _left(tmp_path / "tasklette.db") == (["live"], ["user:fresh"])


def test_the_server_purges_on_a_schedule(tmp_path: Path) -> None:
    server = Server(tmp_path, purge_interval_seconds=1).start()
    try:
        user = server.call(_insert_user(server, "sam"))
        conn = sqlite3.connect(server.settings.database_path)
        _plant(conn, user["id"])
        conn.close()
        deadline = time.monotonic() + 20
        while _left(server.settings.database_path) != (["live"], ["user:fresh"]):
            assert time.monotonic() < deadline, _left(server.settings.database_path)
            time.sleep(0.2)
    finally:
        server.stop()
