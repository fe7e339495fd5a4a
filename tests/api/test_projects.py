"""Projects, members and columns over the API."""

from __future__ import annotations

from typing import Any

from tasklette.api import schemas
from tests.conftest import Server, User, add_member


def test_create_project_makes_owner_and_default_columns(owner: User, server: Server) -> None:
    response = owner.client.post("/api/v1/projects",
                                 json={"name": "  Website  ", "description": "relaunch"})
    assert response.status_code == 201
    project = schemas.Project.model_validate(response.json())
    assert (project.name, project.role, project.task_count) == ("Website", "owner", 0)
    columns = owner.client.get(f"/api/v1/projects/{project.id}/columns").json()
    assert [(c["name"], c["position"]) for c in columns] == [
        ("To do", 0), ("In progress", 1), ("Done", 2)]
    mine = owner.client.get("/api/v1/projects").json()
    assert project.id in [p["id"] for p in mine]
    assert server.sql("SELECT kind FROM events WHERE project_id = ?",
                      (project.id,))[0]["kind"] == "project.created"


def test_list_shows_only_my_projects(owner: User, make_user: Any,
                                     project: dict[str, Any]) -> None:
    stranger = make_user("stranger")
    assert stranger.client.get("/api/v1/projects").json() == []
    assert stranger.client.get(f"/api/v1/projects/{project['id']}").status_code == 404


def test_update_and_delete_project(owner: User, project: dict[str, Any],
                                   server: Server) -> None:
    pid = project["id"]
    updated = owner.client.patch(f"/api/v1/projects/{pid}",
                                 json={"name": "Renamed", "archived": True})
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["archived"]) == ("Renamed", True)
    owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "x"})
    assert owner.client.delete(f"/api/v1/projects/{pid}").status_code == 204
    assert owner.client.get(f"/api/v1/projects/{pid}").status_code == 404
    assert server.sql("SELECT COUNT(*) AS n FROM tasks WHERE project_id = ?",
                      (pid,))[0]["n"] == 0
    assert server.sql("SELECT kind FROM events WHERE project_id = ? ORDER BY id DESC LIMIT 1",
                      (pid,))[0]["kind"] == "project.deleted"


def test_members_add_change_remove(owner: User, make_user: Any,
                                   project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    added = owner.client.post(f"/api/v1/projects/{pid}/members",
                              json={"username": ana.username.upper(), "role": "viewer"})
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "viewer"
    again = owner.client.post(f"/api/v1/projects/{pid}/members",
                              json={"username": ana.username, "role": "viewer"})
    assert again.status_code == 409
    nobody = owner.client.post(f"/api/v1/projects/{pid}/members",
                               json={"username": "no-such-user-x", "role": "viewer"})
    assert nobody.status_code == 422
    assert ana.client.get(f"/api/v1/projects/{pid}").json()["role"] == "viewer"
    changed = owner.client.patch(f"/api/v1/projects/{pid}/members/{ana.username}",
                                 json={"role": "owner"})
    assert changed.json()["role"] == "owner"
    listed = owner.client.get(f"/api/v1/projects/{pid}/members").json()
    assert sorted((m["username"], m["role"]) for m in listed) == sorted(
        [(owner.username, "owner"), (ana.username, "owner")])
    # With two owners, one may step down; then the last owner cannot.
    assert owner.client.patch(f"/api/v1/projects/{pid}/members/{owner.username}",
                              json={"role": "editor"}).status_code == 200
    last = ana.client.patch(f"/api/v1/projects/{pid}/members/{ana.username}",
                            json={"role": "viewer"})
    assert last.status_code == 409
    assert "owner" in last.json()["detail"]
    assert ana.client.delete(
        f"/api/v1/projects/{pid}/members/{owner.username}").status_code == 204
    assert owner.client.get(f"/api/v1/projects/{pid}").status_code == 404


def test_removed_member_is_unassigned(owner: User, make_user: Any,
                                      project: dict[str, Any]) -> None:
    pid = project["id"]
    ben = make_user("ben")
    add_member(owner, pid, ben, "editor")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                             json={"title": "x", "assignees": [ben.username]}).json()
    assert owner.client.delete(f"/api/v1/projects/{pid}/members/{ben.username}"
                               ).status_code == 204
    assert owner.client.get(f"/api/v1/tasks/{task['id']}").json()["assignees"] == []


def test_columns_create_rename_reorder_delete(owner: User, project: dict[str, Any],
                                              server: Server) -> None:
    pid = project["id"]

    def names() -> list[str]:
        columns = owner.client.get(f"/api/v1/projects/{pid}/columns").json()
        assert [c["position"] for c in columns] == list(range(len(columns)))
        return [c["name"] for c in columns]

    review = owner.client.post(f"/api/v1/projects/{pid}/columns",
                               json={"name": "Review", "position": 2})
    assert review.status_code == 201
    assert names() == ["To do", "In progress", "Review", "Done"]
    column_id = review.json()["id"]
    owner.client.patch(f"/api/v1/columns/{column_id}", json={"name": "QA", "position": 0})
    assert names() == ["QA", "To do", "In progress", "Done"]
    owner.client.patch(f"/api/v1/columns/{column_id}", json={"position": 50})
    assert names() == ["To do", "In progress", "Done", "QA"]

    task = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                             json={"title": "in QA", "column_id": column_id}).json()
    refused = owner.client.delete(f"/api/v1/columns/{column_id}")
    assert refused.status_code == 409
    assert "move_to" in refused.json()["detail"]
    done_id = owner.client.get(f"/api/v1/projects/{pid}/columns").json()[2]["id"]
    existing = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                                 json={"title": "already done", "column_id": done_id}).json()
    moved = owner.client.delete(f"/api/v1/columns/{column_id}", params={"move_to": done_id})
    assert moved.status_code == 204
    assert names() == ["To do", "In progress", "Done"]
    got = owner.client.get(f"/api/v1/tasks/{task['id']}").json()
    assert (got["column_id"], got["position"]) == (done_id, 1)
    assert owner.client.get(f"/api/v1/tasks/{existing['id']}").json()["position"] == 0
    assert server.sql("SELECT COUNT(*) AS n FROM columns WHERE id = ?",
                      (column_id,))[0]["n"] == 0


def test_task_needs_a_column(owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    for column in owner.client.get(f"/api/v1/projects/{pid}/columns").json():
        assert owner.client.delete(f"/api/v1/columns/{column['id']}").status_code == 204
    response = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "x"})
    assert response.status_code == 422
    assert "column" in response.json()["detail"]
