"""Labels and comments over the API."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server, User, add_member


def test_label_crud(owner: User, project: dict[str, Any], server: Server) -> None:
    pid = project["id"]
    created = owner.client.post(f"/api/v1/projects/{pid}/labels",
                                json={"name": "bug", "color": "#f00"})
    assert created.status_code == 201
    label = created.json()
    assert label["color"] == "#ff0000"
    duplicate = owner.client.post(f"/api/v1/projects/{pid}/labels",
                                  json={"name": "bug", "color": "#00f"})
    assert duplicate.status_code == 409
    renamed = owner.client.patch(f"/api/v1/labels/{label['id']}",
                                 json={"name": "defect", "color": "#12A594"})
    assert (renamed.json()["name"], renamed.json()["color"]) == ("defect", "#12a594")
    assert owner.client.get(f"/api/v1/labels/{label['id']}").json()["name"] == "defect"
    listed = owner.client.get(f"/api/v1/projects/{pid}/labels").json()
    assert [(lbl["name"], lbl["task_count"]) for lbl in listed] == [("defect", 0)]
    assert owner.client.delete(f"/api/v1/labels/{label['id']}").status_code == 204
    assert owner.client.get(f"/api/v1/labels/{label['id']}").status_code == 404
    kinds = [r["kind"] for r in server.sql(
        "SELECT kind FROM events WHERE entity_type = 'label' AND entity_id = ? ORDER BY id",
        (label["id"],))]
    assert kinds == ["label.created", "label.updated", "label.deleted"]


def test_comments_authors_and_owners(owner: User, make_user: Any,
                                     project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t"}).json()
    url = f"/api/v1/tasks/{task['id']}/comments"
    mine = ana.client.post(url, json={"body": "I'll take **this**"})
    assert mine.status_code == 201
    comment = mine.json()
    assert (comment["author_username"], comment["edited_at"]) == (ana.username, None)
    edited = ana.client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "Done"})
    assert edited.json()["body"] == "Done"
    assert edited.json()["edited_at"] is not None
    # The owner may delete anyone's comment but edit only their own.
    assert owner.client.patch(f"/api/v1/comments/{comment['id']}",
                              json={"body": "x"}).status_code == 403
    own = owner.client.post(url, json={"body": "mine"}).json()
    assert ana.client.delete(f"/api/v1/comments/{own['id']}").status_code == 403
    assert [c["body"] for c in owner.client.get(url).json()] == ["Done", "mine"]
    assert owner.client.delete(f"/api/v1/comments/{comment['id']}").status_code == 204
    assert [c["body"] for c in ana.client.get(url).json()] == ["mine"]
    assert owner.client.get(f"/api/v1/tasks/{task['id']}").json()["comment_count"] == 1


def test_activity_pages_newest_first(owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t"}).json()
    owner.client.post(f"/api/v1/tasks/{task['id']}/move", json={"position": 0})
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "hi"})
    first = owner.client.get(f"/api/v1/projects/{pid}/activity", params={"limit": 2}).json()
    assert [e["kind"] for e in first["items"]] == ["comment.created", "task.moved"]
    assert first["items"][0]["actor_username"] == owner.username
    rest = owner.client.get(f"/api/v1/projects/{pid}/activity",
                            params={"before": first["next_before"]}).json()
    assert [e["kind"] for e in rest["items"]] == ["task.created", "project.created"]
    assert rest["next_before"] is None
    task_activity = owner.client.get(f"/api/v1/tasks/{task['id']}/activity").json()
    assert [e["kind"] for e in task_activity] == ["comment.created", "task.moved",
                                                  "task.created"]
