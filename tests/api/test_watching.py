"""Watching tasks and projects over the API: automatic watches, by hand, and leaving."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server, User, add_member


def _task(user: User, pid: int, **fields: Any) -> dict[str, Any]:
    created = user.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t", **fields})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _rows(server: Server, task_id: int) -> dict[int, int]:
    return {row["user_id"]: row["watching"] for row in server.sql(
        "SELECT user_id, watching FROM task_watchers WHERE task_id = ?", (task_id,))}


def test_creating_assigning_and_commenting_watch_a_task(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, ben, cy = make_user("ana"), make_user("ben"), make_user("cy")
    for user in (ana, ben, cy):
        add_member(owner, pid, user, "editor")
    task = _task(owner, pid, assignees=[ana.username])
    assert _rows(server, task["id"]) == {owner.id: 1, ana.id: 1}
    changed = owner.client.patch(f"/api/v1/tasks/{task['id']}", json={
        "assignees": [ana.username, ben.username], "version": task["version"]})
    assert changed.status_code == 200
    assert cy.client.post(f"/api/v1/tasks/{task['id']}/comments",
                          json={"body": "me too"}).status_code == 201
    assert _rows(server, task["id"]) == {owner.id: 1, ana.id: 1, ben.id: 1, cy.id: 1}
    url = f"/api/v1/tasks/{task['id']}/watch"
    assert cy.client.get(url).json() == {"watching": True, "project": False}


def test_an_unwatch_by_hand_stands(server: Server, owner: User, make_user: Any,
                                   project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "viewer")
    task = _task(owner, pid)
    url = f"/api/v1/tasks/{task['id']}/watch"
    assert ana.client.get(url).json() == {"watching": False, "project": False}
    watched = ana.client.put(url)  # viewers may watch
    assert (watched.status_code, watched.json()["watching"]) == (200, True)
    assert owner.client.delete(url).json() == {"watching": False, "project": False}
    # Commenting again does not bring back an unwatched task.
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "x"})
    assert owner.client.get(url).json()["watching"] is False
    assert _rows(server, task["id"]) == {owner.id: 0, ana.id: 1}


def test_a_project_watch_covers_its_tasks_unless_one_is_unwatched(
        owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    first, second = _task(owner, pid), _task(owner, pid)
    assert ana.client.get(f"/api/v1/projects/{pid}/watch").json()["watching"] is False
    assert ana.client.put(f"/api/v1/projects/{pid}/watch").json() == {
        "watching": True, "project": True}
    assert ana.client.get(f"/api/v1/tasks/{first['id']}/watch").json() == {
        "watching": True, "project": True}
    assert ana.client.delete(f"/api/v1/tasks/{second['id']}/watch").json() == {
        "watching": False, "project": True}
    assert ana.client.delete(f"/api/v1/projects/{pid}/watch").json()["watching"] is False
    assert ana.client.get(f"/api/v1/tasks/{first['id']}/watch").json()["watching"] is False


def test_watching_is_for_members_and_ends_on_leaving(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, stranger = make_user("ana"), make_user("stranger")
    add_member(owner, pid, ana, "editor")
    task = _task(owner, pid, assignees=[ana.username])
    ana.client.put(f"/api/v1/projects/{pid}/watch")
    for method in ("GET", "PUT", "DELETE"):
        for url in (f"/api/v1/tasks/{task['id']}/watch", f"/api/v1/projects/{pid}/watch"):
            answer = stranger.client.request(method, url)
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"
    assert ana.client.delete(f"/api/v1/projects/{pid}/members/{ana.username}"
                             ).status_code == 204
    assert _rows(server, task["id"]) == {owner.id: 1}
    assert server.sql("SELECT * FROM project_watchers WHERE user_id = ?", (ana.id,)) == []
