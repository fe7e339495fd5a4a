"""The project's activity over the API: filters by person and kind, and cursor pages."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from tasklette.api.schemas import ActivityKind
from tasklette.services.activity import KIND_GROUPS
from tests.conftest import Server, User, add_member


def activity(user: User, project_id: int, **params: Any) -> Any:
    response = user.client.get(f"/api/v1/projects/{project_id}/activity", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def make_task(user: User, project_id: int, title: str) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks", json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def event_ids(server: Server, project_id: int, where: str = "",
              params: tuple[Any, ...] = ()) -> list[int]:
    """Ids of the project's events in the table, newest first."""
    rows = server.sql(f"SELECT id FROM events WHERE project_id = ? {where} ORDER BY id DESC",
                      (project_id, *params))
    return [int(row[0]) for row in rows]


@pytest.fixture
def team(owner: User, make_user: Any, project: dict[str, Any]) -> dict[str, Any]:
    """A project where the owner and ana, an editor, both did a few things."""
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    task = make_task(owner, pid, "Fix login")
    done = owner.client.get(f"/api/v1/projects/{pid}/columns").json()[-1]
    assert ana.client.post(f"/api/v1/tasks/{task['id']}/move",
                           json={"column_id": done["id"]}).status_code == 200
    assert ana.client.post(f"/api/v1/tasks/{task['id']}/comments",
                           json={"body": "Done on staging"}).status_code == 201
    assert owner.client.post(f"/api/v1/projects/{pid}/labels",
                             json={"name": "bug", "color": "#e5484d"}).status_code == 201
    make_task(ana, pid, "Write tests")
    return {"pid": pid, "ana": ana, "task": task}


def test_filters_by_person(server: Server, owner: User, team: dict[str, Any]) -> None:
    pid, ana = team["pid"], team["ana"]
    page = activity(owner, pid, actor=ana.username)
    assert [e["id"] for e in page["items"]] == event_ids(server, pid, "AND actor_id = ?",
                                                        (ana.id,))
    assert [e["kind"] for e in page["items"]] == ["task.created", "comment.created",
                                                  "task.moved"]
    assert {e["actor_username"] for e in page["items"]} == {ana.username}
    assert page["next_before"] is None
    # Usernames are case-insensitive, as everywhere else.
    assert activity(owner, pid, actor=ana.username.upper()) == page
    # The owner's own events are the others.
    mine = activity(owner, pid, actor=owner.username)["items"]
    assert [e["id"] for e in mine] == event_ids(server, pid, "AND actor_id = ?", (owner.id,))


def test_unknown_people_give_no_events(make_user: Any, owner: User,
                                       team: dict[str, Any]) -> None:
    pid = team["pid"]
    assert activity(owner, pid, actor="nobody-here") == {"items": [], "next_before": None}
    assert activity(owner, pid, actor="not a name!") == {"items": [], "next_before": None}
    # Someone who exists but never worked here: no events either.
    stranger = make_user("stranger")
    assert activity(owner, pid, actor=stranger.username)["items"] == []


def test_a_removed_member_keeps_their_history(owner: User, team: dict[str, Any]) -> None:
    pid, ana = team["pid"], team["ana"]
    before = activity(owner, pid, actor=ana.username)["items"]
    response = owner.client.delete(f"/api/v1/projects/{pid}/members/{ana.username}")
    assert response.status_code == 204, response.text
    assert activity(owner, pid, actor=ana.username)["items"] == before


def test_filters_by_kind(server: Server, owner: User, team: dict[str, Any]) -> None:
    pid, ana = team["pid"], team["ana"]
    tasks = activity(owner, pid, kind="task")["items"]
    assert [e["id"] for e in tasks] == event_ids(server, pid, "AND kind LIKE 'task.%'")
    assert [e["kind"] for e in tasks] == ["task.created", "task.moved", "task.created"]
    assert [e["kind"] for e in activity(owner, pid, kind="label")["items"]] == ["label.created"]
    assert [e["kind"] for e in activity(owner, pid, kind="member")["items"]] == ["member.added"]
    assert [e["kind"] for e in activity(owner, pid, kind="project")["items"]] == \
        ["project.created"]
    assert activity(owner, pid, kind="attachment")["items"] == []
    # Both filters at once.
    both = activity(owner, pid, actor=ana.username, kind="comment")["items"]
    assert [(e["kind"], e["actor_username"]) for e in both] == [("comment.created",
                                                                 ana.username)]
    assert both[0]["payload"]["task_title"] == "Fix login"


def test_events_say_whether_their_task_is_still_there(owner: User,
                                                      team: dict[str, Any]) -> None:
    pid, task = team["pid"], team["task"]
    assert owner.client.delete(f"/api/v1/tasks/{task['id']}").status_code == 204
    items = activity(owner, pid)["items"]
    of_task = [e for e in items if e["task_id"] == task["id"]]
    assert [e["kind"] for e in of_task] == ["task.deleted", "comment.created", "task.moved",
                                            "task.created"]
    assert {e["task_exists"] for e in of_task} == {False}
    assert {e["task_exists"] for e in items if e["task_id"] is None} == {None}
    other = [e for e in items if e["task_id"] not in (None, task["id"])]
    assert other and {e["task_exists"] for e in other} == {True}


@pytest.mark.parametrize("which", ["all", "tasks", "one-person"])
def test_pages_follow_on_without_gaps_or_repeats(server: Server, owner: User, make_user: Any,
                                                 project: dict[str, Any], which: str) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    for number in range(4):
        make_task(ana, pid, f"Ana's task {number}")
        make_task(owner, pid, f"Owner's task {number}")
        owner.client.post(f"/api/v1/projects/{pid}/labels",
                          json={"name": f"label {number}", "color": "#e5484d"})
    params: dict[str, str] = {}
    where, args = "", ()
    if which == "tasks":
        params, where = {"kind": "task"}, "AND kind LIKE 'task.%'"
    if which == "one-person":
        params, where, args = {"actor": ana.username}, "AND actor_id = ?", (ana.id,)
    expected = event_ids(server, pid, where, args)
    assert len(expected) >= 4
    seen: list[int] = []
    before = None
    for _ in range(len(expected) + 1):
        page = activity(owner, pid, limit=3, **params,
                        **({"before": before} if before else {}))
        assert len(page["items"]) <= 3
        seen += [e["id"] for e in page["items"]]
        before = page["next_before"]
        if before is None:
            break
        assert before == page["items"][-1]["id"]
    assert seen == expected


def test_only_members_see_the_activity(make_user: Any, owner: User,
                                       team: dict[str, Any]) -> None:
    pid = team["pid"]
    outsider = make_user("outsider")
    for params in ({}, {"kind": "task"}, {"actor": owner.username}):
        response = outsider.client.get(f"/api/v1/projects/{pid}/activity", params=params)
        assert response.status_code == 404, response.text
        assert response.json()["title"] == "Not found"
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    assert activity(viewer, pid, kind="task")["items"] == activity(owner, pid,
                                                                   kind="task")["items"]


@pytest.mark.parametrize(("params", "field"), [
    ({"kind": "tasks"}, "kind"), ({"kind": "task.moved"}, "kind"), ({"kind": ""}, "kind"),
    ({"actor": ""}, "actor"), ({"actor": "x" * 41}, "actor")],
    ids=["plural", "exact-kind", "empty-kind", "empty-actor", "long-actor"])
def test_bad_filters_are_422(owner: User, team: dict[str, Any], params: dict[str, str],
                             field: str) -> None:
    response = owner.client.get(f"/api/v1/projects/{team['pid']}/activity", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_the_kind_groups_are_the_same_everywhere() -> None:
    assert set(get_args(ActivityKind)) == set(KIND_GROUPS)


def test_the_openapi_describes_the_filters(anon: Any) -> None:
    spec = anon.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/projects/{project_id}/activity"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"actor", "kind", "before", "limit"} <= names
