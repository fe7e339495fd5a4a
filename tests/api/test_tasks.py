"""Tasks over the API: create, read, change with versions, move, list, delete."""

from __future__ import annotations

from typing import Any

from tasklette.api import schemas
from tests.conftest import Server, User, add_member


def columns_of(user: User, project_id: int) -> list[dict[str, Any]]:
    response = user.client.get(f"/api/v1/projects/{project_id}/columns")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def create(user: User, project_id: int, **fields: Any) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks", json=fields)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def titles_in(user: User, project_id: int, column_id: int) -> list[str]:
    response = user.client.get(f"/api/v1/projects/{project_id}/tasks",
                               params={"column": column_id, "limit": 200})
    items = response.json()["items"]
    assert [task["position"] for task in items] == list(range(len(items)))
    return [task["title"] for task in items]


def test_create_task_fills_defaults_and_writes_event(owner: User, project: dict[str, Any],
                                                     server: Server) -> None:
    task = create(owner, project["id"], title="Write the launch post",
                  description="**Draft** first", priority="high", due_date="2026-12-01")
    schemas.Task.model_validate(task)
    first_column = columns_of(owner, project["id"])[0]
    assert task["column_id"] == first_column["id"]
    assert task["position"] == 0
    assert task["version"] == 1
    assert task["priority"] == "high"
    assert task["due_date"] == "2026-12-01"
    assert task["created_by"] == owner.id
    rows = server.sql("SELECT kind, entity_id, actor_id FROM events WHERE project_id = ? "
                      "AND kind = 'task.created'", (project["id"],))
    assert [(r["kind"], r["entity_id"], r["actor_id"]) for r in rows] == [
        ("task.created", task["id"], owner.id)]


def test_get_task_includes_labels_assignees_subtasks_and_comments(
        owner: User, make_user: Any, project: dict[str, Any]) -> None:
    ana = make_user("ana")
    add_member(owner, project["id"], ana, "editor")
    label = owner.client.post(f"/api/v1/projects/{project['id']}/labels",
                              json={"name": "bug", "color": "#E5484D"}).json()
    assert label["color"] == "#e5484d"
    task = create(owner, project["id"], title="Fix login", label_ids=[label["id"]],
                  assignees=[ana.username])
    create(owner, project["id"], title="Reproduce", parent_task_id=task["id"])
    create(owner, project["id"], title="Patch", parent_task_id=task["id"], completed=True)
    ana.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "On it"})

    response = ana.client.get(f"/api/v1/tasks/{task['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    got = schemas.Task.model_validate(response.json())
    assert [lbl.name for lbl in got.labels] == ["bug"]
    assert [user.username for user in got.assignees] == [ana.username]
    assert got.subtasks is not None
    assert [(s.title, s.completed) for s in got.subtasks] == [("Reproduce", False),
                                                               ("Patch", True)]
    assert (got.subtask_count, got.subtasks_completed, got.comment_count) == (2, 1, 1)


def test_update_needs_the_current_version(owner: User, project: dict[str, Any],
                                          server: Server) -> None:
    task = create(owner, project["id"], title="Old title")
    missing = owner.client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "New"})
    assert missing.status_code == 428
    ok = owner.client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "New"},
                            headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == 2
    assert ok.headers["etag"] == '"2"'

    stale = owner.client.patch(f"/api/v1/tasks/{task['id']}",
                               json={"title": "Lost update", "version": 1})
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current"]["title"] == "New"
    assert stale.json()["current"]["version"] == 2
    assert server.sql("SELECT title, version FROM tasks WHERE id = ?",
                      (task["id"],))[0]["title"] == "New"


def test_update_fields_and_clear_dates(owner: User, project: dict[str, Any]) -> None:
    task = create(owner, project["id"], title="T", start_date="2026-11-01",
                  due_date="2026-11-30")
    response = owner.client.patch(f"/api/v1/tasks/{task['id']}", json={
        "version": 1, "due_date": None, "priority": "urgent", "completed": True,
        "description": "done"})
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["due_date"] is None
    assert got["start_date"] == "2026-11-01"
    assert got["priority"] == "urgent"
    assert got["completed"] is True
    assert got["completed_at"] is not None
    reopened = owner.client.patch(f"/api/v1/tasks/{task['id']}",
                                  json={"version": 2, "completed": False}).json()
    assert reopened["completed"] is False
    assert reopened["completed_at"] is None


def test_move_between_and_within_columns(owner: User, project: dict[str, Any],
                                         server: Server) -> None:
    todo, doing, _done = (c["id"] for c in columns_of(owner, project["id"]))
    a, b, c = (create(owner, project["id"], title=t) for t in "abc")
    assert titles_in(owner, project["id"], todo) == ["a", "b", "c"]

    moved = owner.client.post(f"/api/v1/tasks/{c['id']}/move", json={"position": 0})
    assert moved.status_code == 200, moved.text
    assert moved.json()["position"] == 0
    assert titles_in(owner, project["id"], todo) == ["c", "a", "b"]

    owner.client.post(f"/api/v1/tasks/{a['id']}/move", json={"column_id": doing})
    owner.client.post(f"/api/v1/tasks/{b['id']}/move", json={"column_id": doing,
                                                             "position": 0})
    assert titles_in(owner, project["id"], todo) == ["c"]
    assert titles_in(owner, project["id"], doing) == ["b", "a"]
    far = owner.client.post(f"/api/v1/tasks/{c['id']}/move",
                            json={"column_id": doing, "position": 99}).json()
    assert far["position"] == 2
    assert titles_in(owner, project["id"], doing) == ["b", "a", "c"]
    events = server.sql("SELECT payload FROM events WHERE kind = 'task.moved' AND task_id = ?",
                        (c["id"],))
    assert len(events) == 2


def test_many_moves_to_the_front_renumber_without_duplicates(
        owner: User, project: dict[str, Any], server: Server) -> None:
    todo = columns_of(owner, project["id"])[0]["id"]
    created = [create(owner, project["id"], title=f"t{i}") for i in range(4)]
    # Moving to the front repeatedly halves the first gap until it must be renumbered.
    for round_ in range(14):
        task = created[round_ % 4]
        assert owner.client.post(f"/api/v1/tasks/{task['id']}/move",
                                 json={"position": 0}).status_code == 200
    titles = titles_in(owner, project["id"], todo)
    assert sorted(titles) == ["t0", "t1", "t2", "t3"]
    assert titles[0] == "t1"  # the last one moved (round 13 → index 1)
    ranks = [r["rank"] for r in server.sql(
        "SELECT rank FROM tasks WHERE column_id = ? ORDER BY rank", (todo,))]
    assert len(set(ranks)) == len(ranks) and all(rank > 0 for rank in ranks)


def test_subtasks_are_ordered_within_their_parent(owner: User,
                                                  project: dict[str, Any]) -> None:
    parent = create(owner, project["id"], title="Parent")
    subs = [create(owner, project["id"], title=f"s{i}", parent_task_id=parent["id"])
            for i in range(3)]
    assert all(s["column_id"] is None for s in subs)
    assert [s["position"] for s in subs] == [0, 1, 2]
    owner.client.post(f"/api/v1/tasks/{subs[2]['id']}/move", json={"position": 0})
    got = owner.client.get(f"/api/v1/tasks/{parent['id']}").json()
    assert [s["title"] for s in got["subtasks"]] == ["s2", "s0", "s1"]
    to_column = owner.client.post(f"/api/v1/tasks/{subs[0]['id']}/move",
                                  json={"column_id": parent["column_id"]})
    assert to_column.status_code == 422
    # The board list shows top-level tasks; subtasks are asked for by parent.
    listed = owner.client.get(f"/api/v1/projects/{project['id']}/tasks").json()["items"]
    assert [t["title"] for t in listed] == ["Parent"]
    children = owner.client.get(f"/api/v1/projects/{project['id']}/tasks",
                                params={"parent": parent["id"]}).json()["items"]
    assert [t["title"] for t in children] == ["s2", "s0", "s1"]
    deleted = owner.client.delete(f"/api/v1/tasks/{parent['id']}")
    assert deleted.status_code == 204
    assert owner.client.get(f"/api/v1/tasks/{subs[0]['id']}").status_code == 404


def test_list_filters(owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ben = make_user("ben")
    add_member(owner, pid, ben, "editor")
    doing = columns_of(owner, pid)[1]["id"]
    bug = owner.client.post(f"/api/v1/projects/{pid}/labels",
                            json={"name": "bug", "color": "#e5484d"}).json()
    create(owner, pid, title="Crash on save", label_ids=[bug["id"]], priority="urgent",
           due_date="2026-11-20", assignees=[ben.username])
    create(owner, pid, title="Polish icons", priority="low", due_date="2026-12-20",
           column_id=doing)
    create(owner, pid, title="Release notes", description="mention the CRASH fix",
           completed=True)

    def titles(**params: Any) -> list[str]:
        response = owner.client.get(f"/api/v1/projects/{pid}/tasks", params=params)
        assert response.status_code == 200, response.text
        return sorted(t["title"] for t in response.json()["items"])

    assert titles(label=bug["id"]) == ["Crash on save"]
    assert titles(assignee=ben.username) == ["Crash on save"]
    assert ben.client.get(f"/api/v1/projects/{pid}/tasks",
                          params={"assignee": "me"}).json()["items"][0]["title"] == \
        "Crash on save"
    assert titles(priority="low,urgent") == ["Crash on save", "Polish icons"]
    assert titles(due_before="2026-12-01") == ["Crash on save"]
    assert titles(due_after="2026-12-01") == ["Polish icons"]
    assert titles(completed="true") == ["Release notes"]
    assert titles(completed="false") == ["Crash on save", "Polish icons"]
    assert titles(q="crash") == ["Crash on save", "Release notes"]
    assert titles(q="100%") == []
    assert titles(column=doing) == ["Polish icons"]
    assert titles(assignee="nobody-by-that-name") == []


def test_sort_and_cursor_pagination_cover_every_task_once(owner: User,
                                                          project: dict[str, Any]) -> None:
    pid = project["id"]
    columns = [c["id"] for c in columns_of(owner, pid)]
    priorities = ["none", "low", "medium", "high", "urgent"]
    for i in range(23):
        create(owner, pid, title=f"task {i:02d}", column_id=columns[i % 3],
               priority=priorities[i % 5], due_date=None if i % 4 == 0 else f"2026-12-{i+1:02d}")
    for sort in ["position", "-position", "created", "-created", "due", "-due", "priority",
                 "-priority", "title", "-title", "updated"]:
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"sort": sort, "limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = owner.client.get(f"/api/v1/projects/{pid}/tasks", params=params).json()
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 23 and len({t["id"] for t in seen}) == 23, sort
    by_title = [t["title"] for t in owner.client.get(
        f"/api/v1/projects/{pid}/tasks", params={"sort": "-title", "limit": 3}).json()["items"]]
    assert by_title == ["task 22", "task 21", "task 20"]
    by_position = owner.client.get(f"/api/v1/projects/{pid}/tasks",
                                   params={"limit": 200}).json()["items"]
    assert [t["column_id"] for t in by_position] == sorted(
        (t["column_id"] for t in by_position), key=columns.index)


def test_delete_task_with_if_match(owner: User, project: dict[str, Any],
                                   server: Server) -> None:
    task = create(owner, project["id"], title="Gone soon")
    stale = owner.client.delete(f"/api/v1/tasks/{task['id']}", headers={"If-Match": '"7"'})
    assert stale.status_code == 409
    assert owner.client.delete(f"/api/v1/tasks/{task['id']}",
                               headers={"If-Match": '"1"'}).status_code == 204
    assert owner.client.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert server.sql("SELECT COUNT(*) AS n FROM events WHERE kind = 'task.deleted' "
                      "AND entity_id = ?", (task["id"],))[0]["n"] == 1


def test_attach_and_detach_labels(owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    task = create(owner, pid, title="Tag me")
    label = owner.client.post(f"/api/v1/projects/{pid}/labels",
                              json={"name": "ux", "color": "#8e4ec6"}).json()
    attached = owner.client.put(f"/api/v1/tasks/{task['id']}/labels/{label['id']}")
    assert attached.status_code == 200
    assert [lbl["name"] for lbl in attached.json()["labels"]] == ["ux"]
    assert attached.json()["version"] == 2
    again = owner.client.put(f"/api/v1/tasks/{task['id']}/labels/{label['id']}")
    assert again.json()["version"] == 2
    detached = owner.client.delete(f"/api/v1/tasks/{task['id']}/labels/{label['id']}")
    assert detached.json()["labels"] == []
    other = owner.client.post("/api/v1/projects", json={"name": "Other"}).json()
    foreign = owner.client.post(f"/api/v1/projects/{other['id']}/labels",
                                json={"name": "x", "color": "#000"}).json()
    assert owner.client.put(
        f"/api/v1/tasks/{task['id']}/labels/{foreign['id']}").status_code == 404
    assert owner.client.post(f"/api/v1/projects/{pid}/tasks", json={
        "title": "t", "label_ids": [foreign["id"]]}).status_code == 422


def test_positions_are_the_same_whatever_the_page_or_filter(owner: User,
                                                            project: dict[str, Any]) -> None:
    pid = project["id"]
    columns = [c["id"] for c in columns_of(owner, pid)]
    label = owner.client.post(f"/api/v1/projects/{pid}/labels",
                              json={"name": "odd", "color": "#123456"}).json()
    for i in range(14):
        create(owner, pid, title=f"p{i}", column_id=columns[i % 2],
               label_ids=[label["id"]] if i % 3 == 0 else [])
    everything = owner.client.get(f"/api/v1/projects/{pid}/tasks",
                                  params={"limit": 200}).json()["items"]
    truth = {t["id"]: (t["column_id"], t["position"]) for t in everything}
    for column in columns[:2]:
        assert sorted(p for c, p in truth.values() if c == column) == list(range(7))
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "sort": "-position"}
        if cursor:
            params["cursor"] = cursor
        page = owner.client.get(f"/api/v1/projects/{pid}/tasks", params=params).json()
        paged += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert {t["id"]: (t["column_id"], t["position"]) for t in paged} == truth
    filtered = owner.client.get(f"/api/v1/projects/{pid}/tasks",
                                params={"label": label["id"]}).json()["items"]
    assert len(filtered) == 5
    assert all(truth[t["id"]] == (t["column_id"], t["position"]) for t in filtered)
