"""In-app notifications over the API: who is told of what, pages, marking read, scope."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Server, User, add_member, eventually
from tests.sse import Stream


def _task(user: User, pid: int, **fields: Any) -> dict[str, Any]:
    created = user.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t", **fields})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _mine(user: User, **params: Any) -> dict[str, Any]:
    answer = user.client.get("/api/v1/me/notifications", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _wait_for(user: User, count: int) -> list[dict[str, Any]]:
    eventually(lambda: len(_mine(user)["items"]) >= count)
    items: list[dict[str, Any]] = _mine(user)["items"]
    return items


def _settled(server: Server) -> None:
    """Every job done (nothing queued or running): no notification is still on its way."""
    eventually(lambda: server.sql(
        "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0] == 0)


def test_assigning_commenting_and_changing_notify_the_right_people(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, ben = make_user("ana"), make_user("ben")
    add_member(owner, pid, ana, "editor")
    add_member(owner, pid, ben, "editor")
    task = _task(owner, pid, title="Ship it", assignees=[ana.username])
    (assigned,) = _wait_for(ana, 1)
    assert (assigned["kind"], assigned["task_id"], assigned["task_title"]) == (
        "assigned", task["id"], "Ship it")
    assert (assigned["actor_username"], assigned["read_at"]) == (owner.username, None)
    assert assigned["project_name"] == "Launch"
    # Ana comments: the owner (creator, watching) is told; Ana, the actor, is not.
    ana.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "On it"})
    (commented,) = _wait_for(owner, 1)
    assert commented["kind"] == "commented"
    assert commented["detail"]["excerpt"] == "On it"
    # The owner moves it and sets a due date: Ana (assigned, watching) hears of both.
    columns = owner.client.get(f"/api/v1/projects/{pid}/columns").json()
    owner.client.post(f"/api/v1/tasks/{task['id']}/move", json={"column_id": columns[1]["id"]})
    version = owner.client.get(f"/api/v1/tasks/{task['id']}").json()["version"]
    owner.client.patch(f"/api/v1/tasks/{task['id']}",
                       json={"due_date": "2030-01-02", "title": "Ship it!", "version": version})
    items = _wait_for(ana, 3)
    assert [(i["kind"], i["detail"].get("changes")) for i in items] == [
        ("changed", ["due_date"]), ("changed", ["column_id"]), ("assigned", None)]
    assert items[0]["task_title"] == "Ship it!"
    _settled(server)
    # Ben never watched and was never concerned; nobody was told of their own doing.
    assert _mine(ben)["items"] == []
    assert len(_mine(owner)["items"]) == 1
    rows = server.sql("SELECT user_id, actor_id FROM notifications")
    assert all(row["user_id"] != row["actor_id"] for row in rows)


def test_a_title_change_or_a_same_column_move_notifies_nobody(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    task = _task(owner, pid, assignees=[ana.username])
    _wait_for(ana, 1)
    owner.client.patch(f"/api/v1/tasks/{task['id']}",
                       json={"title": "renamed", "version": task["version"]})
    owner.client.post(f"/api/v1/tasks/{task['id']}/move", json={"position": 0})
    _settled(server)
    assert len(_mine(ana)["items"]) == 1


def test_pages_unread_filter_and_marking_read(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    tasks = [_task(owner, pid, title=f"t{n}", assignees=[ana.username]) for n in range(5)]
    _wait_for(ana, 5)
    first = _mine(ana, limit=2)
    assert first["unread_count"] == 5
    assert [i["task_title"] for i in first["items"]] == ["t4", "t3"]
    second = _mine(ana, limit=2, cursor=first["next_cursor"])
    third = _mine(ana, limit=2, cursor=second["next_cursor"])
    assert [i["task_title"] for i in second["items"] + third["items"]] == ["t2", "t1", "t0"]
    assert third["next_cursor"] is None
    ids = [i["id"] for i in first["items"]]
    read = ana.client.post("/api/v1/me/notifications/read", json={"ids": ids})
    assert read.status_code == 200
    assert read.json() == {"unread_count": 3}
    unread = _mine(ana, unread="true")
    assert [i["task_title"] for i in unread["items"]] == ["t2", "t1", "t0"]
    # Someone else's id: 404, and nothing is marked.
    other = make_user("other")
    add_member(owner, pid, other, "editor")
    owner.client.patch(f"/api/v1/tasks/{tasks[0]['id']}", json={
        "assignees": [ana.username, other.username], "version": tasks[0]["version"]})
    (theirs,) = _wait_for(other, 1)
    refused = ana.client.post("/api/v1/me/notifications/read",
                              json={"ids": [unread["items"][0]["id"], theirs["id"]]})
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert _mine(ana)["unread_count"] == 3
    for bad in ({}, {"ids": []}, {"all": False}, {"ids": [1], "all": True}, {"ids": ["x"]}):
        answer = ana.client.post("/api/v1/me/notifications/read", json=bad)
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"] == "application/problem+json"
    assert ana.client.post("/api/v1/me/notifications/read",
                           json={"all": True}).json() == {"unread_count": 0}
    assert _mine(ana, unread="true")["items"] == []
    assert _mine(other)["unread_count"] == 1
    assert ana.client.get("/api/v1/me/notifications",
                          params={"cursor": "abc"}).status_code == 422


def test_a_project_left_leaks_nothing(server: Server, owner: User, make_user: Any,
                                      project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    _task(owner, pid, title="Secret plan", assignees=[ana.username])
    _wait_for(ana, 1)
    assert ana.client.delete(f"/api/v1/projects/{pid}/members/{ana.username}"
                             ).status_code == 204
    page = _mine(ana)
    assert (page["items"], page["unread_count"]) == ([], 0)
    assert "Secret plan" not in ana.client.get("/api/v1/me/notifications").text


def test_project_watchers_hear_of_every_task_but_an_unwatched_one(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "viewer")
    ana.client.put(f"/api/v1/projects/{pid}/watch")
    loud, quiet = _task(owner, pid, title="loud"), _task(owner, pid, title="quiet")
    ana.client.delete(f"/api/v1/tasks/{quiet['id']}/watch")
    for task in (loud, quiet):
        owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "news"})
    _settled(server)
    assert [(i["kind"], i["task_title"]) for i in _mine(ana)["items"]] == [
        ("commented", "loud")]


def test_a_thousand_watchers_are_told_in_one_bulk_write(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    task = _task(owner, pid, title="Popular")
    server.call(_many_watchers(server, pid, task["id"], 1000))
    started = time.monotonic()
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "hello all"})
    eventually(lambda: server.sql("SELECT COUNT(*) FROM notifications WHERE task_id = ?",
                                  (task["id"],))[0][0] == 1000, timeout=30)
    elapsed = time.monotonic() - started
    _settled(server)
    (job,) = server.sql("SELECT state, attempts FROM jobs WHERE kind = "
                        "'notifications.fan_out' AND key LIKE 'event:%' ORDER BY id DESC "
                        "LIMIT 1")
    assert (job["state"], job["attempts"]) == ("done", 1)
    # The activity log holds the comment, and nothing about who was told.
    assert [row[0] for row in server.sql("SELECT kind FROM events WHERE task_id = ? "
                                         "ORDER BY id", (task["id"],))] == [
        "task.created", "comment.created"]
    assert elapsed < 10, elapsed  # well under a second on a quiet machine (bench/)


async def _many_watchers(server: Server, project_id: int, task_id: int, count: int) -> None:
    from tasklette.clock import now_iso
    now = now_iso()
    prefix = f"w{task_id}x"
    async with server.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO users (username, display_name, password_hash, is_admin, "
            "created_at, password_changed_at) VALUES (?, 'W', 'x', 0, ?, ?)",
            [(f"{prefix}{n}", now, now) for n in range(count)])
        ids = [int(user_id) for (user_id,) in await tx.fetchtuples(
            "SELECT id FROM users WHERE username LIKE ?", (prefix + "%",))]
        await tx.executemany(
            "INSERT INTO project_members (project_id, user_id, role, created_at) "
            "VALUES (?, ?, 'viewer', ?)", [(project_id, user_id, now) for user_id in ids])
        await tx.executemany(
            "INSERT INTO task_watchers (task_id, user_id, watching, created_at) "
            "VALUES (?, ?, 1, ?)", [(task_id, user_id, now) for user_id in ids])


def test_my_stream_tells_me_of_new_notifications_and_nobody_else(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, ben = make_user("ana"), make_user("ben")
    add_member(owner, pid, ana, "editor")
    add_member(owner, pid, ben, "editor")
    hers = Stream(server.base_url + "/api/v1/me/events",
                  {"Authorization": f"Bearer {ana.token}"})
    his = Stream(server.base_url + "/api/v1/me/events",
                 {"Authorization": f"Bearer {ben.token}"})
    board = Stream(server.base_url + f"/api/v1/projects/{pid}/events",
                   {"Authorization": f"Bearer {ben.token}"})
    try:
        greeting = hers.until("notification.count")  # the bell's count, on opening
        assert (greeting.id, greeting.data) == (None, {"unread_count": 0})
        _task(owner, pid, title="Hers", assignees=[ana.username])
        told = hers.until("notification.created")
        (newest,) = _mine(ana)["items"]
        assert told.id is None  # it moves no Last-Event-ID
        assert told.data == {"user_id": ana.id, "notification_id": newest["id"],
                             "unread_count": 1}
        again = Stream(server.base_url + "/api/v1/me/events",
                       {"Authorization": f"Bearer {ana.token}"})
        try:
            assert again.until("notification.count").data == {"unread_count": 1}
        finally:
            again.close()
        _settled(server)
        for stream in (his, board):
            frames = [f for f in _frames(stream) if f.event == "notification.created"]
            assert frames == []
    finally:
        for stream in (hers, his, board):
            stream.close()


def _frames(stream: Stream, seconds: float = 0.5) -> list[Any]:
    found = []
    while True:
        try:
            frame = stream.next(seconds)
        except TimeoutError:
            return found
        if frame is None:
            return found
        found.append(frame)


def test_a_change_nobody_else_watches_queues_no_job(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    task = _task(owner, pid)  # only its creator watches it
    columns = owner.client.get(f"/api/v1/projects/{pid}/columns").json()
    _settled(server)
    before = server.sql("SELECT COUNT(*) FROM jobs")[0][0]
    owner.client.post(f"/api/v1/tasks/{task['id']}/move", json={"column_id": columns[1]["id"]})
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "note to self"})
    assert server.sql("SELECT COUNT(*) FROM jobs")[0][0] == before
    # Once Ana watches, the same changes queue one job each, and tell her.
    ana.client.put(f"/api/v1/tasks/{task['id']}/watch")
    owner.client.post(f"/api/v1/tasks/{task['id']}/move", json={"column_id": columns[0]["id"]})
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "for Ana"})
    assert server.sql("SELECT COUNT(*) FROM jobs")[0][0] == before + 2
    eventually(lambda: [i["kind"] for i in _mine(ana)["items"]] == ["commented", "changed"])
