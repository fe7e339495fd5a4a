"""Importing a Todoist project exported as CSV, over the API.

The shared fixtures hold no Todoist export, so the file is written here, in the
format Todoist exports (a `meta` row, blank separator rows, `Name (id)` people).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from tests.conftest import Server, User

HEADER = ("TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE,"
          "DURATION,DURATION_UNIT,DEADLINE,DEADLINE_LANG")


def export(mia: str) -> bytes:
    """A Todoist CSV export in which `mia` (a username here) is a collaborator."""
    name = mia.capitalize()
    rows = [
        HEADER,
        "meta,view_style=board,,,,,,,,,,,,",
        "task,Collect receipts @finance @Admin-work,All of last quarter,2,1,Evan (1478),,"
        "2026-12-15,en,Europe/Berlin,,,,",
        "task,Scan the paper ones,,4,2,Evan (1478),,,en,Europe/Berlin,,,,",
        "task,Shred the originals,,4,3,Evan (1478),,,en,Europe/Berlin,,,,",
        "note,Ask where the shredder is,,,,Evan (1478),,,en,Europe/Berlin,,,,",
        ",,,,,,,,,,,,,",
        "section,Doing,,,,,,,,,,,,",
        f"task,File the tax return @finance,\"Forms: A, B and \"\"C\"\"\",1,1,Evan (1478),"
        f"{name} (2000),Dec 20 2026,en,Europe/Berlin,,,,",
        f"note,The deadline is firm,,,,{name} (2000),,2026-11-01 10:00,en,Europe/Berlin,,,,",
        "note,Evan agrees,,,,Evan (1478),,,en,Europe/Berlin,,,,",
        "task,Water the plants,,3,1,Evan (1478),,every monday,en,Europe/Berlin,,,,",
        ",,,,,,,,,,,,,",
        "section,Done,,,,,,,,,,,,",
    ]
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode()


def expected_counts(raw: bytes) -> dict[str, int]:
    """Counted from the CSV itself: sections (plus one column for tasks before the first
    section), tasks by indent, distinct @labels, notes."""
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    kinds = [row["TYPE"] for row in rows]
    tasks = [row for row in rows if row["TYPE"] == "task"]
    first_section = kinds.index("section") if "section" in kinds else len(kinds)
    loose = any(kind == "task" for kind in kinds[:first_section])
    return {
        "columns": kinds.count("section") + int(loose),
        "tasks": sum(1 for row in tasks if row["INDENT"] in ("", "1")),
        "subtasks": sum(1 for row in tasks if row["INDENT"] not in ("", "1")),
        "labels": len({label.lower() for row in tasks
                       for label in re.findall(r"@(\S+)", row["CONTENT"])}),
        "comments": kinds.count("note"),
    }


def import_csv(user: User, content: bytes, **params: str) -> Any:
    return user.client.post("/api/v1/imports/todoist", content=content, params=params,
                            headers={"content-type": "text/csv"})


def test_todoist_export_imports(owner: User, make_user: Any, server: Server) -> None:
    mia = make_user("mia")
    raw = export(mia.username)
    expected = expected_counts(raw)
    assert expected == {"columns": 3, "tasks": 3, "subtasks": 2, "labels": 2, "comments": 3}
    response = import_csv(owner, raw, project="Taxes")
    assert response.status_code == 201, response.text
    result = response.json()
    assert {key: result[key] for key in expected} == expected
    assert result["name"] == "Taxes"
    assert any("1 date that name no single day" in item for item in result["skipped"])
    pid = result["project_id"]
    columns = owner.client.get(f"/api/v1/projects/{pid}/columns").json()
    assert [c["name"] for c in columns] == ["No section", "Doing", "Done"]
    tasks = owner.client.get(f"/api/v1/projects/{pid}/tasks").json()["items"]
    assert [(t["title"], t["priority"], t["due_date"]) for t in tasks] == [
        ("Collect receipts", "high", "2026-12-15"),
        ("File the tax return", "urgent", "2026-12-20"),
        ("Water the plants", "medium", None)]
    receipts = owner.client.get(f"/api/v1/tasks/{tasks[0]['id']}").json()
    assert sorted(label["name"] for label in receipts["labels"]) == ["Admin-work", "finance"]
    assert receipts["description"] == "All of last quarter"
    [scan] = receipts["subtasks"]
    scan_task = owner.client.get(f"/api/v1/tasks/{scan['id']}").json()
    assert (scan_task["title"], scan_task["priority"]) == ("Scan the paper ones", "none")
    [shred] = scan_task["subtasks"]
    assert shred["title"] == "Shred the originals"  # INDENT 3: a subtask of the subtask
    notes = owner.client.get(f"/api/v1/tasks/{shred['id']}/comments").json()
    assert [c["body"] for c in notes] == [
        "**Evan** wrote in Todoist:\n\nAsk where the shredder is"]
    taxes = owner.client.get(f"/api/v1/tasks/{tasks[1]['id']}").json()
    assert taxes["description"] == 'Forms: A, B and "C"'
    assert [a["username"] for a in taxes["assignees"]] == [mia.username]
    notes = owner.client.get(f"/api/v1/tasks/{tasks[1]['id']}/comments").json()
    assert [(c["author_username"], c["body"], c["created_at"]) for c in notes] == [
        (mia.username, "The deadline is firm", "2026-11-01T10:00:00.000000Z"),
        (None, "**Evan** wrote in Todoist:\n\nEvan agrees", notes[1]["created_at"])]
    plants = owner.client.get(f"/api/v1/tasks/{tasks[2]['id']}").json()
    assert plants["description"] == "Todoist date: every monday"
    labels = {label["name"] for label in
              owner.client.get(f"/api/v1/projects/{pid}/labels").json()}
    assert labels == {"finance", "Admin-work"}
    # A second import makes a second project.
    again = import_csv(owner, raw, project="Taxes").json()
    assert again["name"] == "Taxes (2)" and again["project_id"] != pid


def test_not_a_todoist_export(owner: User, server: Server) -> None:
    before = server.sql("SELECT COUNT(*) FROM projects")[0][0]
    huge = HEADER.encode() + b"\ntask,x," + b"y" * 200_000 + b",4,1\n"
    for content, message in (
            (b"name,email\nana,a@example.com\n", "not a Todoist CSV export"),
            (b"", "the file is empty"),
            (b"\xff\xfe\x00T\x00Y", "not UTF-8"),
            (huge, "this CSV file cannot be read: field larger than field limit")):
        response = import_csv(owner, content)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert message in response.json()["detail"]
    assert server.sql("SELECT COUNT(*) FROM projects")[0][0] == before
