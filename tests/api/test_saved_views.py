"""Saved views over the API: a list filter and sort under a name, shared by the project."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server, User, add_member


def create(user: User, project_id: int, name: str, query: str) -> Any:
    return user.client.post(f"/api/v1/projects/{project_id}/views",
                            json={"name": name, "query": query})


def test_save_list_rename_delete(owner: User, make_user: Any, server: Server,
                                 project: dict[str, Any]) -> None:
    pid = project["id"]
    label = owner.client.post(f"/api/v1/projects/{pid}/labels",
                              json={"name": "bug", "color": "#e5484d"}).json()
    created = create(owner, pid, "Open bugs, due first",
                     f"?sort=due&completed=false&label={label['id']}&q=")
    assert created.status_code == 201, created.text
    view = created.json()
    # Stored in a canonical order, empty parameters dropped; `url` opens the list view.
    assert view["query"] == f"label={label['id']}&completed=false&sort=due"
    assert view["url"] == f"/projects/{pid}/list?{view['query']}"
    assert (view["name"], view["created_by"]) == ("Open bugs, due first", owner.username)
    # The query is a valid task-list query of the API as it is.
    assert owner.client.get(f"/api/v1/projects/{pid}/tasks?{view['query']}").status_code == 200
    create(owner, pid, "All by title", "sort=title")
    listed = owner.client.get(f"/api/v1/projects/{pid}/views").json()
    assert [v["name"] for v in listed] == ["All by title", "Open bugs, due first"]

    # Shared: another member sees the views and, as an editor, changes them.
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    assert len(ana.client.get(f"/api/v1/projects/{pid}/views").json()) == 2
    renamed = ana.client.patch(f"/api/v1/views/{view['id']}", json={"name": "Bugs"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Bugs"
    requeried = ana.client.patch(f"/api/v1/views/{view['id']}", json={"query": "sort=-due"})
    assert requeried.json()["query"] == "sort=-due"
    assert owner.client.get(f"/api/v1/views/{view['id']}").json()["name"] == "Bugs"
    assert ana.client.delete(f"/api/v1/views/{view['id']}").status_code == 204
    assert owner.client.get(f"/api/v1/views/{view['id']}").status_code == 404
    kinds = [r["kind"] for r in server.sql(
        "SELECT kind FROM events WHERE entity_type = 'view' AND entity_id = ? ORDER BY id",
        (view["id"],))]
    assert kinds == ["view.created", "view.updated", "view.updated", "view.deleted"]


def test_who_may_do_what(owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    view = create(owner, pid, "Mine", "sort=title").json()
    viewer, outsider = make_user("viewer"), make_user("outsider")
    add_member(owner, pid, viewer, "viewer")
    assert [v["name"] for v in viewer.client.get(f"/api/v1/projects/{pid}/views").json()] \
        == ["Mine"]
    assert create(viewer, pid, "Not allowed", "sort=title").status_code == 403
    assert viewer.client.patch(f"/api/v1/views/{view['id']}",
                               json={"name": "x"}).status_code == 403
    assert viewer.client.delete(f"/api/v1/views/{view['id']}").status_code == 403
    # Outsiders are told nothing exists.
    assert outsider.client.get(f"/api/v1/projects/{pid}/views").status_code == 404
    assert outsider.client.get(f"/api/v1/views/{view['id']}").status_code == 404
    assert outsider.client.delete(f"/api/v1/views/{view['id']}").status_code == 404
    assert create(outsider, pid, "x", "").status_code == 404


def test_bad_views_are_refused(owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    create(owner, pid, "Taken", "sort=title")
    duplicate = create(owner, pid, "Taken", "sort=due")
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    other = owner.client.post("/api/v1/projects", json={"name": "Other"}).json()
    foreign = owner.client.post(f"/api/v1/projects/{other['id']}/labels",
                                json={"name": "x", "color": "#000000"}).json()
    cases = {
        "cursor=abc": "cursor",
        "colour=red": "colour",
        "sort=sideways": "sort",
        "label=abc": "label",
        "sort=title&sort=due": "twice",
        f"label={foreign['id']}": "not in this project",
    }
    for query, word in cases.items():
        response = create(owner, pid, f"View {query}", query)
        assert response.status_code == 422, (query, response.text)
        assert word in response.json()["detail"], (query, response.json())
    assert create(owner, pid, "", "sort=title").status_code == 422
    assert owner.client.patch(f"/api/v1/views/{999_999_999}",
                              json={"name": "x"}).status_code == 404
    view = create(owner, pid, "Fine", "").json()
    assert view["url"] == f"/projects/{pid}/list"
    assert owner.client.patch(f"/api/v1/views/{view['id']}",
                              json={"name": None}).status_code == 422
    assert owner.client.patch(f"/api/v1/views/{view['id']}",
                              json={"name": "Taken"}).status_code == 409
