"""Export: the JSON that imports back unchanged into a fresh instance, and the CSV."""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from tasklette.services import tokens
from tasklette.services.permissions import Actor
from tests.conftest import POSTGRES_URL, Server, User, _admin, _insert_user, add_member, run_sync

_fresh = itertools.count(1)


@contextmanager
def fresh_instance(server: Server, tmp_path: Path) -> Iterator[Server]:
    """A second, empty Tasklette on the same engine as `server`."""
    data_dir = tmp_path / f"fresh{next(_fresh)}"
    if not server.settings.database_url:
        fresh = Server(data_dir).start()
        try:
            yield fresh
        finally:
            fresh.stop()
        return
    name = f"tasklette_fresh_{os.getpid()}_{next(_fresh)}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        fresh = Server(data_dir, database_url=POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
        fresh.start()
        try:
            yield fresh
        finally:
            fresh.stop()
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def user_on(server: Server, username: str) -> httpx.Client:
    row = server.call(_insert_user(server, username))
    _, secret = server.call(tokens.create(server.db, Actor(row["id"], username), "tests"))
    return httpx.Client(base_url=server.base_url, timeout=30,
                        headers={"authorization": f"Bearer {secret}"})


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content and status != 204 else None


def build_project(owner: User, ana: User, viewer: User) -> int:
    """A project that uses every field: the round trip must carry all of it."""
    c = owner.client
    pid = ok(c.post("/api/v1/projects", json={"name": "Round trip",
                                               "description": "All *the* things"}), 201)["id"]
    add_member(owner, pid, ana, "editor")
    add_member(owner, pid, viewer, "viewer")
    columns = ok(c.get(f"/api/v1/projects/{pid}/columns"))
    review = ok(c.post(f"/api/v1/projects/{pid}/columns",
                       json={"name": "Review", "position": 2}), 201)
    ok(c.patch(f"/api/v1/columns/{columns[0]['id']}", json={"name": "Backlog"}))
    bug = ok(c.post(f"/api/v1/projects/{pid}/labels", json={"name": "bug", "color": "#e5484d"}),
             201)
    ux = ok(c.post(f"/api/v1/projects/{pid}/labels", json={"name": "UX", "color": "#0090ff"}),
            201)

    def task(title: str, **fields: Any) -> dict[str, Any]:
        return ok(c.post(f"/api/v1/projects/{pid}/tasks", json={"title": title, **fields}), 201)

    big = task("Launch checklist", description="# Steps\n\n- one\n- two", priority="urgent",
               start_date="2026-11-01", due_date="2026-12-24", label_ids=[bug["id"], ux["id"]],
               assignees=[owner.username, ana.username])
    task("=SUM(1+1)", description="starts like a formula", column_id=review["id"])
    done = task("Already done", completed=True, column_id=columns[2]["id"], priority="low")
    second = task("Second in backlog")
    first = task("First in backlog", position=0)
    child = task("Sub one", parent_task_id=big["id"])
    task("Sub two", parent_task_id=big["id"], completed=True)
    task("Grandchild", parent_task_id=child["id"], due_date="2026-12-01")
    ok(c.post(f"/api/v1/tasks/{second['id']}/move", json={"column_id": columns[1]["id"]}))
    ok(c.patch(f"/api/v1/tasks/{first['id']}", json={"version": first["version"],
                                                      "title": "First, renamed"}))
    gone = task("Deleted later")
    ok(c.post(f"/api/v1/tasks/{gone['id']}/comments", json={"body": "bye"}), 201)
    ok(c.delete(f"/api/v1/tasks/{gone['id']}"), 204)
    mine = ok(c.post(f"/api/v1/tasks/{big['id']}/comments", json={"body": "Owner's **note**"}),
              201)
    ok(ana.client.post(f"/api/v1/tasks/{big['id']}/comments", json={"body": "Ana agrees"}), 201)
    ok(c.patch(f"/api/v1/comments/{mine['id']}", json={"body": "Owner's edited note"}))
    ok(c.post(f"/api/v1/tasks/{done['id']}/comments", json={"body": "Done and dusted"}), 201)
    ok(c.post(f"/api/v1/projects/{pid}/views", json={
        "name": "Bugs in review", "query": f"label={bug['id']}&column={review['id']}&sort=-due"}),
        201)
    ok(c.patch(f"/api/v1/projects/{pid}", json={"archived": True}))
    return int(pid)


def normalised(export: dict[str, Any]) -> dict[str, Any]:
    """The export with its ids replaced by places, so two instances can be compared."""
    maps = {kind: {row["id"]: i for i, row in enumerate(export[kind])}
            for kind in ("columns", "labels", "tasks", "comments", "views")}
    places = {"column": maps["columns"], "label": maps["labels"], "task": maps["tasks"],
              "comment": maps["comments"], "view": maps["views"]}

    def place(kind: str, value: Any) -> Any:
        """The row's place in the export; None for something the export does not hold."""
        if kind in ("project", "user"):
            return kind  # users are compared by entity_username
        return None if value in (None, 0) else places[kind].get(value)

    def view_query(query: str) -> list[tuple[str, Any]]:
        return [(k, place(k, int(v)) if k in ("label", "column") else v)
                for k, v in parse_qsl(query)]

    return {
        "format": export["format"], "version": export["version"],
        "project": export["project"], "members": export["members"],
        "columns": [{**c, "id": None} for c in export["columns"]],
        "labels": [{**label, "id": None} for label in export["labels"]],
        "tasks": [{**t, "id": None, "column_id": place("column", t["column_id"]),
                   "parent_task_id": place("task", t["parent_task_id"]),
                   "labels": [place("label", i) for i in t["labels"]]}
                  for t in export["tasks"]],
        "comments": [{**c, "id": None, "task_id": place("task", c["task_id"])}
                     for c in export["comments"]],
        "views": [{**v, "id": None, "query": view_query(v["query"])} for v in export["views"]],
        "events": [{**e, "id": None, "entity_id": place(e["entity_type"], e["entity_id"]),
                    "task_id": maps["tasks"].get(e["task_id"])} for e in export["events"]],
    }


def test_export_imports_back_unchanged_into_a_fresh_instance(
        owner: User, make_user: Any, server: Server, tmp_path: Path) -> None:
    ana, viewer = make_user("ana"), make_user("viewer")
    pid = build_project(owner, ana, viewer)
    response = owner.client.get(f"/api/v1/projects/{pid}/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="round-trip-')
    original = response.json()
    assert (original["format"], original["version"]) == ("tasklette.project", 1)
    assert len(original["tasks"]) == 8 and len(original["comments"]) == 3
    assert {m["username"]: m["role"] for m in original["members"]} == {
        owner.username: "owner", ana.username: "editor", viewer.username: "viewer"}

    with fresh_instance(server, tmp_path) as fresh:
        clients = {name: user_on(fresh, name) for name in (owner.username, ana.username,
                                                           viewer.username)}
        try:
            imported = ok(clients[owner.username].post(
                "/api/v1/imports/tasklette", content=response.content), 201)
            assert imported["name"] == "Round trip"
            assert (imported["tasks"], imported["subtasks"], imported["comments"]) == (5, 3, 3)
            again = ok(clients[owner.username].get(
                f"/api/v1/projects/{imported['project_id']}/export"))
            # The viewer came back as a viewer, with the same rights.
            assert ok(clients[viewer.username].get(
                f"/api/v1/projects/{imported['project_id']}"))["role"] == "viewer"
            found = ok(clients[ana.username].get("/api/v1/search", params={"q": "dusted"}))
            assert [item["title"] for item in found["items"]] == ["Already done"]
        finally:
            for client in clients.values():
                client.close()

    before, after = normalised(original), normalised(again)
    # The import itself is one more event at the end of the history.
    assert after["events"][-1]["kind"] == "project.created"
    assert after["events"][-1]["payload"]["imported_from"] == "tasklette"
    after["events"] = after["events"][:-1]
    for key in before:
        assert after[key] == before[key], key
    deleted = [e for e in before["events"] if e["kind"] == "task.deleted"]
    assert deleted and deleted[0]["task_id"] is None  # its task did not come along


def test_csv_export_parses_back(owner: User, make_user: Any, project: dict[str, Any]) -> None:
    ana, viewer = make_user("ana"), make_user("viewer")
    pid = build_project(owner, ana, viewer)
    response = owner.client.get(f"/api/v1/projects/{pid}/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    assert response.content.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read UTF-8
    assert b"\r\n" in response.content
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"),
                                           newline="")))
    data = ok(owner.client.get(f"/api/v1/projects/{pid}/export"))
    assert len(rows) == len(data["tasks"]) == 8
    by_title = {row["Title"]: row for row in rows}
    big = by_title["Launch checklist"]
    assert (big["Column"], big["Priority"], big["Status"], big["Labels"]) == (
        "Backlog", "urgent", "open", "bug, UX")
    assert big["Assignees"] == ", ".join(sorted([owner.username, ana.username]))
    assert (big["Start date"], big["Due date"], big["Comments"]) == ("2026-11-01",
                                                                     "2026-12-24", "2")
    assert big["Description"] == "# Steps\n\n- one\n- two"
    sub = by_title["Sub one"]
    assert (sub["Parent ID"], sub["Column"]) == (big["ID"], "")
    assert by_title["Already done"]["Status"] == "done"
    assert by_title["Already done"]["Completed at"] != ""
    # A cell that a spreadsheet would run as a formula is shown as text instead.
    assert "'=SUM(1+1)" in by_title
    # Subtasks follow their parent.
    titles = [row["Title"] for row in rows]
    assert titles.index("Sub one") == titles.index("Launch checklist") + 1
    assert titles.index("Grandchild") == titles.index("Sub one") + 1


def test_who_may_export(owner: User, make_user: Any, project: dict[str, Any]) -> None:
    viewer, outsider = make_user("viewer"), make_user("outsider")
    add_member(owner, project["id"], viewer, "viewer")
    assert viewer.client.get(f"/api/v1/projects/{project['id']}/export").status_code == 200
    assert outsider.client.get(f"/api/v1/projects/{project['id']}/export").status_code == 404
    assert owner.client.get(f"/api/v1/projects/{project['id']}/export",
                            params={"format": "xml"}).status_code == 422


def test_a_damaged_export_leaves_nothing_behind(owner: User, server: Server,
                                                project: dict[str, Any]) -> None:
    export = ok(owner.client.get(f"/api/v1/projects/{project['id']}/export"))
    owner.client.post(f"/api/v1/projects/{project['id']}/tasks", json={"title": "t"})
    export = ok(owner.client.get(f"/api/v1/projects/{project['id']}/export"))
    before = server.sql("SELECT (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM tasks), "
                        "(SELECT COUNT(*) FROM events)")[0]

    def attempt(data: Any) -> dict[str, Any]:
        response = owner.client.post("/api/v1/imports/tasklette", json=data)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return response.json()  # type: ignore[no-any-return]

    assert "not a Tasklette project export" in attempt({"lists": []})["detail"]
    assert "format version 2" in attempt({**export, "version": 2})["detail"]
    broken = {**export, "tasks": [{**export["tasks"][0], "parent_task_id": 999}]}
    assert "subtask of task 999, which is not in the file" in attempt(broken)["detail"]
    typo = {**export, "tasks": [{**export["tasks"][0], "priority": "extreme"}]}
    assert "damaged at tasks.0.priority" in attempt(typo)["detail"]
    # This one fails only while writing, after the project row went in: rolled back whole.
    bad_colour = {**export, "labels": [{"id": 1, "name": "x", "color": "reddish"}]}
    assert "colour" in attempt(bad_colour)["detail"]
    after = server.sql("SELECT (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM tasks), "
                       "(SELECT COUNT(*) FROM events)")[0]
    assert tuple(after) == tuple(before)


def test_odd_but_readable_exports_are_repaired(owner: User, project: dict[str, Any]) -> None:
    owner.client.post(f"/api/v1/projects/{project['id']}/tasks", json={"title": "t"})
    export = ok(owner.client.get(f"/api/v1/projects/{project['id']}/export"))
    export["labels"] = [{"id": 1, "name": "bug", "color": "#e5484d"},
                        {"id": 2, "name": "bug", "color": "#0090ff"}]
    export["tasks"][0] = {**export["tasks"][0], "title": "nul\x00here", "labels": [1, 2]}
    export["views"] = [{"name": "v", "query": "sort=title"}, {"name": "v", "query": ""}]
    imported = ok(owner.client.post("/api/v1/imports/tasklette", json=export), 201)
    pid = imported["project_id"]
    labels = ok(owner.client.get(f"/api/v1/projects/{pid}/labels"))
    assert sorted(label["name"] for label in labels) == ["bug", "bug 2"]
    views = ok(owner.client.get(f"/api/v1/projects/{pid}/views"))
    assert sorted(view["name"] for view in views) == ["v", "v 2"]
    [task] = ok(owner.client.get(f"/api/v1/projects/{pid}/tasks"))["items"]
    assert task["title"] == "nulhere"
    bad_time = {**export, "comments": [], "tasks": [{**export["tasks"][0],
                                                     "created_at": "yesterday"}]}
    response = owner.client.post("/api/v1/imports/tasklette", json=bad_time)
    assert response.status_code == 422
    assert "'yesterday' is not an ISO 8601 time" in response.json()["detail"]
