"""Importing Trello board exports over the API: the shared real-world fixtures, a richer
generated board, malformed files, and imports that never merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklette.services import tokens
from tasklette.services.permissions import Actor
from tests.conftest import Server, User, _insert_user

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
TRELLO_FIXTURES = ("trello-board-small.json", "trello-board-customfields.json")


def expected_counts(board: dict[str, Any]) -> dict[str, int]:
    """What an import must create, counted straight from the export."""
    open_lists = {item["id"] for item in board["lists"] if not item.get("closed")}
    cards = {card["id"] for card in board["cards"]
             if not card.get("closed") and card["idList"] in open_lists}
    return {
        "columns": len(open_lists),
        "tasks": len(cards),
        "labels": len(board["labels"]),
        "subtasks": sum(len(checklist["checkItems"]) for checklist in board["checklists"]
                        if checklist["idCard"] in cards),
        "comments": sum(1 for action in board["actions"] if action["type"] == "commentCard"
                        and isinstance(action["data"], dict)
                        and action["data"]["card"]["id"] in cards),
    }


def stored_counts(server: Server, project_id: int) -> dict[str, int]:
    def count(sql: str) -> int:
        return int(server.sql(sql, (project_id,))[0][0])

    return {
        "columns": count("SELECT COUNT(*) FROM columns WHERE project_id = ?"),
        "tasks": count("SELECT COUNT(*) FROM tasks WHERE project_id = ? "
                       "AND parent_task_id IS NULL"),
        "labels": count("SELECT COUNT(*) FROM labels WHERE project_id = ?"),
        "subtasks": count("SELECT COUNT(*) FROM tasks WHERE project_id = ? "
                          "AND parent_task_id IS NOT NULL"),
        "comments": count("SELECT COUNT(*) FROM comments c JOIN tasks t ON t.id = c.task_id "
                          "WHERE t.project_id = ?"),
    }


def import_file(user: User, source: str, content: bytes, **params: str) -> Any:
    return user.client.post(f"/api/v1/imports/{source}", content=content, params=params,
                            headers={"content-type": "application/octet-stream"})


@pytest.mark.parametrize("name", TRELLO_FIXTURES)
def test_fixture_imports_with_exact_counts(name: str, owner: User, server: Server) -> None:
    raw = (FIXTURES / name).read_bytes()
    board = json.loads(raw)
    expected = expected_counts(board)
    first = import_file(owner, "trello", raw)
    assert first.status_code == 201, first.text
    result = first.json()
    assert {key: result[key] for key in expected} == expected
    assert stored_counts(server, result["project_id"]) == expected
    assert result["name"] == board["name"]
    project = owner.client.get(f"/api/v1/projects/{result['project_id']}").json()
    assert project["role"] == "owner"
    # Lists in Trello's order, cards in their list's order.
    columns = owner.client.get(f"/api/v1/projects/{result['project_id']}/columns").json()
    open_lists = sorted((item for item in board["lists"] if not item["closed"]),
                        key=lambda item: item["pos"])
    assert [c["name"] for c in columns] == [item["name"] for item in open_lists]

    # A second import is a new project beside the first, never a merge into it.
    second = import_file(owner, "trello", raw).json()
    assert second["project_id"] != result["project_id"]
    assert second["name"] == f"{board['name']} (2)"
    assert stored_counts(server, result["project_id"]) == expected
    assert stored_counts(server, second["project_id"]) == expected
    names = [p["name"] for p in owner.client.get("/api/v1/projects").json()]
    assert names.count(board["name"]) == 1


def test_custom_fields_and_unknown_members_are_kept_as_text(owner: User) -> None:
    raw = (FIXTURES / "trello-board-customfields.json").read_bytes()
    result = import_file(owner, "trello", raw, project="Custom fields").json()
    assert result["name"] == "Custom fields"
    assert result["kept_as_text"] == ["Test User (@test_user) (3 times)"]
    tasks = owner.client.get(f"/api/v1/projects/{result['project_id']}/tasks").json()["items"]
    write = next(task for task in tasks if task["title"] == "Write code")
    assert "Text Value: Hello" in write["description"]
    assert "Date Value: 2021-01-07" in write["description"]
    assert "Assigned in Trello to: Test User (@test_user)" in write["description"]
    assert write["assignees"] == []
    labels = owner.client.get(f"/api/v1/projects/{result['project_id']}/labels").json()
    assert {(label["name"], label["color"]) for label in labels} >= {
        ("Green", "#4bce97"), ("Red", "#f87168")}  # unnamed labels take their colour's name


def rich_board(member: str, commenter: str) -> dict[str, Any]:
    """A board with what the fixtures lack: checklists, comments, attachments, members."""
    def action(card: str, text: str, date: str, username: str, full: str) -> dict[str, Any]:
        return {"id": f"a{date}", "type": "commentCard", "date": date,
                "data": {"text": text, "card": {"id": card}},
                "memberCreator": {"id": f"m-{username}", "username": username,
                                  "fullName": full}}

    return {
        "id": "5fcbec03c670ab79e1f625b2", "name": "Rich board", "desc": "All of it",
        "lists": [
            {"id": "L2", "name": "Doing", "pos": 2000, "closed": False},
            {"id": "L1", "name": "Backlog", "pos": 1000, "closed": False},
            {"id": "L3", "name": "Old stuff", "pos": 3000, "closed": True},
        ],
        "labels": [
            {"id": "lb1", "name": "bug", "color": "red"},
            {"id": "lb2", "name": "", "color": "sky"},
            {"id": "lb3", "name": "bug", "color": "green_dark"},
            {"id": "lb4", "name": "", "color": None},
        ],
        "members": [
            {"id": "M1", "username": member, "fullName": "Known Person"},
            {"id": "M2", "username": "nobodyhere", "fullName": "Ghost Writer"},
        ],
        "cards": [
            {"id": "C2", "name": "Second in backlog", "idList": "L1", "pos": 200,
             "closed": False, "desc": "", "idLabels": [], "idMembers": []},
            {"id": "C1", "name": "First in backlog", "idList": "L1", "pos": 100.5,
             "closed": False, "desc": "Do *this*", "idLabels": ["lb1", "lb2", "missing"],
             "idMembers": ["M1", "M2"], "due": "2026-12-01T10:00:00.000Z",
             "start": "2026-11-20T00:00:00.000Z", "dueComplete": True,
             "dateLastActivity": "2026-11-02T08:00:00.000Z",
             "attachments": [{"name": "spec [v2].pdf", "url": "https://trello.com/1/x.pdf"},
                             {"name": "", "url": "https://example.com/a_(b)"}]},
            {"id": "C3", "name": "", "idList": "L2", "pos": 1, "closed": False,
             "someFutureField": {"nested": [1, 2]}},
            {"id": "C4", "name": "Archived card", "idList": "L2", "pos": 2, "closed": True},
            {"id": "C5", "name": "In an archived list", "idList": "L3", "pos": 1,
             "closed": False},
        ],
        "checklists": [
            {"id": "K2", "idCard": "C1", "name": "Later", "pos": 2, "checkItems": [
                {"id": "i3", "name": "Tidy up", "state": "incomplete", "pos": 1}]},
            {"id": "K1", "idCard": "C1", "name": "Steps", "pos": 1, "checkItems": [
                {"id": "i2", "name": "Two", "state": "incomplete", "pos": 2},
                {"id": "i1", "name": "One", "state": "complete", "pos": 1}]},
            {"id": "K3", "idCard": "C4", "name": "Gone", "pos": 1, "checkItems": [
                {"id": "i4", "name": "Skipped with its card", "state": "complete", "pos": 1}]},
        ],
        "actions": [
            action("C1", "Second word on it", "2026-10-02T09:00:00.000Z", "nobodyhere",
                   "Ghost Writer"),
            action("C1", "A flamingo appeared", "2026-10-01T09:00:00.000Z", commenter,
                   "Known Commenter"),
            action("C4", "On an archived card", "2026-10-03T09:00:00.000Z", commenter, "K"),
            {"id": "x", "type": "updateCard", "data": {"card": {"id": "C1"}}},
            {"type": "commentCard", "data": "not an object"},
        ],
    }


def test_a_rich_board(owner: User, make_user: Any, server: Server) -> None:
    member, commenter = make_user("known"), make_user("commenter")
    board = rich_board(member.username, commenter.username)
    response = import_file(owner, "trello", json.dumps(board).encode())
    assert response.status_code == 201, response.text
    result = response.json()
    assert {key: result[key] for key in ("columns", "tasks", "subtasks", "labels",
                                         "comments")} == expected_counts(board)
    assert result["links"] == 2
    assert result["members_added"] == [f"{member.username} (editor)"]
    assert "1 archived list and their cards" in result["skipped"]
    assert "1 archived card" in result["skipped"]
    pid = result["project_id"]
    columns = owner.client.get(f"/api/v1/projects/{pid}/columns").json()
    assert [c["name"] for c in columns] == ["Backlog", "Doing"]
    tasks = owner.client.get(f"/api/v1/projects/{pid}/tasks").json()["items"]
    assert [t["title"] for t in tasks] == ["First in backlog", "Second in backlog",
                                           "Untitled card"]
    first = owner.client.get(f"/api/v1/tasks/{tasks[0]['id']}").json()
    assert (first["due_date"], first["start_date"], first["completed"]) == (
        "2026-12-01", "2026-11-20", True)
    assert first["completed_at"] == "2026-11-02T08:00:00.000000Z"
    assert [a["username"] for a in first["assignees"]] == [member.username]
    assert "Assigned in Trello to: Ghost Writer (@nobodyhere)" in first["description"]
    assert first["description"].startswith("Do *this*")
    assert "- [spec (v2).pdf](https://trello.com/1/x.pdf)" in first["description"]
    assert "(https://example.com/a_(b%29)" in first["description"]
    assert sorted((label["name"], label["color"]) for label in first["labels"]) == [
        ("Sky", "#6cc3e0"), ("bug", "#f87168")]
    labels = owner.client.get(f"/api/v1/projects/{pid}/labels").json()
    assert sorted(label["name"] for label in labels) == ["Label", "Sky", "bug", "bug 2"]
    # Checklists, in order, each item a subtask that keeps its checked state.
    assert [(s["title"], s["completed"]) for s in first["subtasks"]] == [
        ("Steps: One", True), ("Steps: Two", False), ("Later: Tidy up", False)]
    comments = owner.client.get(f"/api/v1/tasks/{first['id']}/comments").json()
    assert [(c["author_username"], c["created_at"]) for c in comments] == [
        (commenter.username, "2026-10-01T09:00:00.000000Z"),
        (None, "2026-10-02T09:00:00.000000Z")]
    assert comments[0]["body"] == "A flamingo appeared"
    assert comments[1]["body"] == ("**Ghost Writer (@nobodyhere)** wrote in Trello:\n\n"
                                   "Second word on it")
    # The search index was filled in the same transaction as the rows.
    found = owner.client.get("/api/v1/search", params={"q": "flamingo"}).json()["items"]
    assert [item["id"] for item in found] == [first["id"]]
    # One event tells the project's story: created by this import.
    events = server.sql("SELECT kind, payload FROM events WHERE project_id = ?", (pid,))
    assert [row["kind"] for row in events] == ["project.created"]
    assert json.loads(events[0]["payload"])["imported_from"] == "trello"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"{not json", "not a Trello board export: it is not JSON"),
    (b"[1, 2, 3]", "not a Trello board export: it has no lists and cards"),
    (b'{"name": "x", "lists": "nope", "cards": []}', "it has no lists and cards"),
    ((FIXTURES / "README.md").read_bytes(), "it is not JSON"),
])
def test_a_file_that_is_not_a_trello_export(content: bytes, message: str, owner: User,
                                            server: Server) -> None:
    before = server.sql("SELECT COUNT(*) FROM projects")[0][0]
    response = import_file(owner, "trello", content)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "file"
    assert server.sql("SELECT COUNT(*) FROM projects")[0][0] == before


def test_unknown_source_and_size_limit(owner: User, tmp_path: Path) -> None:
    response = import_file(owner, "asana", b"{}")
    assert response.status_code == 422 and "no import from 'asana'" in response.json()["detail"]
    small = Server(tmp_path, max_import_bytes=1000).start()
    try:
        row = small.call(_insert_user(small, "limited"))
        _, secret = small.call(tokens.create(small.db, Actor(row["id"], "limited"), "t"))
        with httpx.Client(base_url=small.base_url,
                          headers={"authorization": f"Bearer {secret}"}) as client:
            big = (FIXTURES / "trello-board-small.json").read_bytes()
            refused = client.post("/api/v1/imports/trello", content=big)
            assert refused.status_code == 413
            assert "over the limit of 1000 bytes" in refused.json()["detail"]
            assert client.get("/api/v1/projects").json() == []
    finally:
        small.stop()


def test_importing_needs_a_token(anon: httpx.Client) -> None:
    raw = (FIXTURES / "trello-board-small.json").read_bytes()
    response = anon.post("/api/v1/imports/trello", content=raw)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
