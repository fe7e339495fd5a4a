"""`tasklette import …` and `tasklette export project`, run as an administrator runs them."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from tests.test_cli import tasklette
from tests.test_import_trello import FIXTURES


def rows(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(data_dir / "tasklette.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_import_export_round_trip(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    fixture = str(FIXTURES / "trello-board-customfields.json")
    none_yet = tasklette("import", "trello", fixture, *data)
    assert none_yet.returncode == 1 and "there are no users yet" in none_yet.stderr
    assert tasklette("user", "create", "ana", "--password", "a good password", *data)\
        .returncode == 0
    first = tasklette("import", "trello", fixture, *data)  # the only user owns it
    assert first.returncode == 0, first.stderr
    assert "Imported “Project 100” from Trello (project 1): 3 columns, 3 tasks" in first.stdout
    assert "Test User (@test_user)" in first.stdout  # no such account: kept as text
    assert tasklette("user", "create", "bob", "--password", "a good password", *data)\
        .returncode == 0
    ambiguous = tasklette("import", "trello", fixture, *data)
    assert ambiguous.returncode == 1 and "--owner" in ambiguous.stderr
    second = tasklette("import", "trello", fixture, "--owner", "bob", "--project", "Board",
                       *data)
    assert second.returncode == 0, second.stderr
    assert "Imported “Board” from Trello (project 2)" in second.stdout
    assert rows(tmp_path, "SELECT id, name FROM projects ORDER BY id") == [
        (1, "Project 100"), (2, "Board")]

    bad = tasklette("import", "trello", str(FIXTURES / "README.md"), *data)
    assert bad.returncode == 1
    assert "README.md: this is not a Trello board export: it is not JSON" in bad.stderr
    missing = tasklette("import", "todoist", str(tmp_path / "nope.csv"), *data)
    assert missing.returncode == 2 and "does not exist" in missing.stderr

    out = tmp_path / "p1.json"
    exported = tasklette("export", "project", "1", "-o", str(out), *data)
    assert exported.returncode == 0, exported.stderr
    assert f"Wrote 3 tasks of “Project 100” to {out}" in exported.stderr
    assert json.loads(out.read_text())["format"] == "tasklette.project"
    back = tasklette("import", "tasklette", str(out), "--owner", "ana", *data)
    assert back.returncode == 0, back.stderr
    assert "Imported “Project 100 (2)” from Tasklette (project 3)" in back.stdout

    as_csv = tasklette("export", "project", "1", "--format", "csv", "-o", "-", *data)
    assert as_csv.returncode == 0, as_csv.stderr
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout.lstrip("\ufeff"))))
    assert [row["Title"] for row in parsed] == ["Write code", "Review code", "Visualize code"]
    not_member = tasklette("export", "project", "1", "--as", "bob", *data)
    assert not_member.returncode == 1 and "project not found" in not_member.stderr
    nowhere = tasklette("export", "project", "99", *data)
    assert nowhere.returncode == 1 and "there is no project 99" in nowhere.stderr
