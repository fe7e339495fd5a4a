"""The fast read paths agree with each other: a page read in board order from the indexes,
a page sorted and then hydrated, a task read alone, a task returned by a write.

Same JSON, same order, same positions, same permissions, on every engine.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tasklette.services import tasks
from tests.conftest import Server, User, add_member

ALL_PRIORITIES = "none,low,medium,high,urgent"


def same(got: Any, expected: Any) -> bool:
    """Equal as JSON, to the byte: key order, and true apart from 1."""
    return orjson.dumps(got) == orjson.dumps(expected)


def page(user: User, project_id: int, **params: Any) -> dict[str, Any]:
    response = user.client.get(f"/api/v1/projects/{project_id}/tasks", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def walk(user: User, project_id: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of the list, page by page."""
    items: list[dict[str, Any]] = []
    for _ in range(200):
        got = page(user, project_id, **params)
        items += got["items"]
        if got["next_cursor"] is None:
            return items
        params["cursor"] = got["next_cursor"]
    raise AssertionError("the walk never ended")


def alone(user: User, task_id: int) -> dict[str, Any]:
    """The task as GET /tasks/{id} answers it, without what only that answer has."""
    response = user.client.get(f"/api/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    task = response.json()
    del task["subtasks"]
    return task  # type: ignore[no-any-return]


@pytest.fixture
def board(owner: User, make_user: Any, project: dict[str, Any]) -> dict[str, Any]:
    """A project whose three columns hold 6, 0 and 5 tasks in a shuffled order, with
    labels (case and accents decide their order), assignees, comments and subtasks."""
    pid = project["id"]
    ana, bob = make_user("ana"), make_user("bob")
    for user in (ana, bob):
        add_member(owner, pid, user, "editor")
    labels = [owner.client.post(f"/api/v1/projects/{pid}/labels",
                                json={"name": name, "color": "#112233"}).json()["id"]
              for name in ("Zeta", "été", "alpha", "Beta")]
    columns = [c["id"] for c in owner.client.get(f"/api/v1/projects/{pid}/columns").json()]
    made = []
    for i in range(11):
        column = columns[0] if i < 6 else columns[2]
        response = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={
            "title": f"Task {i}", "column_id": column, "description": "d" * i,
            "priority": ["none", "low", "high"][i % 3], "label_ids": labels[:i % 5],
            "assignees": [ana.username, bob.username][:i % 3], "position": i % 4,
            "due_date": f"2031-01-{10 + i}" if i % 2 else None})
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    for i, task_id in enumerate(made[::3]):
        for n in range(i + 1):
            owner.client.post(f"/api/v1/tasks/{task_id}/comments", json={"body": f"c{n}"})
        owner.client.post(f"/api/v1/projects/{pid}/tasks", json={
            "title": f"Sub {i}", "parent_task_id": task_id, "completed": i % 2 == 0})
    owner.client.post(f"/api/v1/tasks/{made[7]}/move", json={"column_id": columns[0],
                                                           "position": 2})
    return {"id": pid, "columns": columns}


def in_board_order(user: User, board: dict[str, Any]) -> list[dict[str, Any]]:
    """Each column's tasks, one column at a time (a column filter: one list)."""
    tasks = []
    for column in board["columns"]:
        tasks += page(user, board["id"], column=column, limit=200)["items"]
    return tasks


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_board_order_pages_are_the_tasks_read_alone_in_order(
        owner: User, board: dict[str, Any], limit: int) -> None:
    expected = in_board_order(owner, board)
    assert len(expected) == 11
    for column in board["columns"]:
        positions = [t["position"] for t in expected if t["column_id"] == column]
        assert positions == list(range(len(positions)))
    forward = walk(owner, board["id"], limit=limit)
    assert same(forward, expected)
    backward = walk(owner, board["id"], sort="-position", limit=limit)
    assert same(backward, expected[::-1])
    assert same(forward, [alone(owner, task["id"]) for task in expected])


def test_sorted_pages_hydrate_as_the_board_order_does(owner: User,
                                                      board: dict[str, Any]) -> None:
    by_id = {task["id"]: task for task in in_board_order(owner, board)}
    for sort in ("created", "-due", "title", "position"):
        # Every priority named: a filtered list, whose positions are counted apart.
        items = walk(owner, board["id"], sort=sort, priority=ALL_PRIORITIES, limit=3)
        assert sorted(task["id"] for task in items) == sorted(by_id)
        assert all(same(task, by_id[task["id"]]) for task in items), sort
    label_id = next(task["labels"][0]["id"] for task in by_id.values() if task["labels"])
    labelled = walk(owner, board["id"], label=label_id, limit=2)
    assert labelled and all(same(task, by_id[task["id"]]) for task in labelled)


def test_subtask_lists_and_a_written_task_read_the_same(owner: User,
                                                       board: dict[str, Any]) -> None:
    parent = next(t for t in in_board_order(owner, board) if t["subtask_count"])
    subtasks = walk(owner, board["id"], parent=parent["id"], limit=1)
    assert [t["position"] for t in subtasks] == list(range(len(subtasks)))
    full = owner.client.get(f"/api/v1/tasks/{parent['id']}").json()
    assert same([{"id": t["id"], "title": t["title"], "completed": t["completed"],
                  "due_date": t["due_date"]} for t in subtasks], full["subtasks"])
    assert parent["subtasks_completed"] == sum(t["completed"] for t in subtasks)
    changed = owner.client.patch(f"/api/v1/tasks/{parent['id']}",
                                 json={"title": "Renamed", "version": parent["version"]})
    assert changed.status_code == 200, changed.text
    assert same(changed.json(), owner.client.get(f"/api/v1/tasks/{parent['id']}").json())


def test_reads_keep_their_permissions(owner: User, make_user: Any,
                                      board: dict[str, Any]) -> None:
    viewer, stranger = make_user("viewer"), make_user("stranger")
    add_member(owner, board["id"], viewer, "viewer")
    assert same(walk(viewer, board["id"], limit=4), walk(owner, board["id"], limit=4))
    task_id = page(owner, board["id"])["items"][0]["id"]
    assert same(alone(viewer, task_id), alone(owner, task_id))
    assert stranger.client.get(f"/api/v1/projects/{board['id']}/tasks").status_code == 404
    assert stranger.client.get(f"/api/v1/tasks/{task_id}").status_code == 404


def test_the_board_hydrates_its_cards_as_pages_do(owner: User, server: Server,
                                                  board: dict[str, Any]) -> None:
    """The board reads links project-wide, pages per row: the cards come out the same."""
    _, _, cards = server.call(tasks.board(server.db, owner.actor, board["id"]))
    expected = [{**task, "description": ""} for task in in_board_order(owner, board)]
    assert same(cards, expected)
