"""@mentions over the API: members are notified and watch; anyone else is refused alike."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server, User, add_member, eventually


def _kinds(user: User) -> list[str]:
    items = user.client.get("/api/v1/me/notifications").json()["items"]
    return [item["kind"] for item in items]


def _settled(server: Server) -> None:
    eventually(lambda: server.sql(
        "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0] == 0)


def test_a_mention_in_a_comment_notifies_and_watches(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "viewer")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t"}).json()
    body = f"@{ana.username.upper()}, could you look? (not owner@example.com, not `@x`)"
    made = owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": body})
    assert made.status_code == 201, made.text
    eventually(lambda: _kinds(ana) == ["mentioned"])
    (item,) = ana.client.get("/api/v1/me/notifications").json()["items"]
    assert item["detail"]["excerpt"] == body
    assert ana.client.get(f"/api/v1/tasks/{task['id']}/watch").json()["watching"] is True
    # Now watching, a later comment tells her as a watcher.
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "thanks"})
    eventually(lambda: _kinds(ana) == ["commented", "mentioned"])


def test_only_new_mentions_in_a_description_notify(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, ben = make_user("ana"), make_user("ben")
    add_member(owner, pid, ana, "editor")
    add_member(owner, pid, ben, "editor")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={
        "title": "t", "description": f"For @{ana.username}."}).json()
    eventually(lambda: _kinds(ana) == ["mentioned"])
    changed = owner.client.patch(f"/api/v1/tasks/{task['id']}", json={
        "description": f"For @{ana.username} and @{ben.username}.",
        "version": task["version"]})
    assert changed.status_code == 200, changed.text
    eventually(lambda: _kinds(ben) == ["mentioned"])
    _settled(server)
    assert _kinds(ana) == ["mentioned"]


def test_mentioning_a_non_member_is_refused_and_writes_nothing(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    outsider = make_user("outsider")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t"}).json()
    _settled(server)
    before = [server.sql(f"SELECT COUNT(*) FROM {table}")[0][0]
              for table in ("tasks", "comments", "events", "jobs", "task_watchers")]
    details = []
    for name in (outsider.username, "nobody-at-all"):
        for method, url, body in (
                ("POST", f"/api/v1/tasks/{task['id']}/comments", {"body": f"hi @{name}"}),
                ("POST", f"/api/v1/projects/{pid}/tasks",
                 {"title": "x", "description": f"@{name}"}),
                ("PATCH", f"/api/v1/tasks/{task['id']}",
                 {"description": f"cc @{name}", "version": task["version"]})):
            answer = owner.client.request(method, url, json=body)
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert f"@{name} is not a member of this project" in answer.json()["detail"]
            details.append(answer.json()["detail"].replace(name, "NAME"))
    # Whether such a user exists is not revealed: the same words for both.
    assert len(set(details)) == 1
    assert [server.sql(f"SELECT COUNT(*) FROM {table}")[0][0]
            for table in ("tasks", "comments", "events", "jobs", "task_watchers")] == before
    assert _kinds(outsider) == []


def test_editing_a_comment_notifies_whom_it_newly_mentions(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, ben = make_user("ana"), make_user("ben")
    add_member(owner, pid, ana, "editor")
    add_member(owner, pid, ben, "editor")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t"}).json()
    comment = owner.client.post(f"/api/v1/tasks/{task['id']}/comments",
                                json={"body": f"@{ana.username} see"}).json()
    eventually(lambda: _kinds(ana) == ["mentioned"])
    edited = owner.client.patch(f"/api/v1/comments/{comment['id']}", json={
        "body": f"@{ana.username} and @{ben.username} see"})
    assert edited.status_code == 200, edited.text
    eventually(lambda: _kinds(ben) == ["mentioned"])
    refused = owner.client.patch(f"/api/v1/comments/{comment['id']}",
                                 json={"body": "@not-a-member-here"})
    assert refused.status_code == 422
    _settled(server)
    assert _kinds(ana) == ["mentioned"]
    assert owner.client.get(f"/api/v1/tasks/{task['id']}/comments").json()[0]["body"] == (
        f"@{ana.username} and @{ben.username} see")
