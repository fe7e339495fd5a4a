"""Watch buttons, the notifications page and mentions in the web UI, through real HTTP."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Server, User, add_member, eventually
from tests.web.test_task_pages import the_form


def _task(user: User, pid: int, **fields: Any) -> dict[str, Any]:
    created = user.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t", **fields})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_watch_buttons_toggle_a_task_and_a_project(
        server: Server, owner: User, browse: Any, make_user: Any,
        project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "viewer")
    task = _task(owner, pid)
    tab = browse(ana)
    page = tab.page(f"/tasks/{task['id']}").text
    assert re.search(r'data-watch aria-pressed="false"[^>]*>Watch</button>', page)
    token = _csrf(page)
    watched = tab.htmx("POST", f"/tasks/{task['id']}/watch",
                       data={"csrf_token": token, "watching": "true"})
    assert watched.status_code == 200
    assert re.search(r'data-watch aria-pressed="true"[^>]*>Unwatch</button>', watched.text)
    assert ana.client.get(f"/api/v1/tasks/{task['id']}/watch").json()["watching"] is True
    # The project's pages offer a project-level watch, and go back where they were.
    activity = tab.page(f"/projects/{pid}/activity").text
    assert re.search(r'aria-pressed="false"[^>]*>Watch project</button>', activity)
    back = tab.post(f"/projects/{pid}/watch", data={
        "csrf_token": token, "watching": "true", "back": f"/projects/{pid}/activity"},
        follow_redirects=False)
    assert (back.status_code, back.headers["location"]) == (303, f"/projects/{pid}/activity")
    assert re.search(r">Unwatch project</button>", tab.page(f"/projects/{pid}/activity").text)
    elsewhere = tab.post(f"/projects/{pid}/watch", data={
        "csrf_token": token, "watching": "false", "back": "https://evil.example/"},
        follow_redirects=False)
    assert elsewhere.headers["location"] == f"/projects/{pid}/activity"
    assert ana.client.get(f"/api/v1/projects/{pid}/watch").json()["watching"] is False
    # A forged form changes nothing.
    forged = tab.post(f"/tasks/{task['id']}/watch", data={"watching": "false"},
                      headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403
    assert ana.client.get(f"/api/v1/tasks/{task['id']}/watch").json()["watching"] is True


def test_the_notifications_page_groups_by_task_and_marks_read(
        server: Server, owner: User, browse: Any, make_user: Any,
        project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    first = _task(owner, pid, title="First <task>", assignees=[ana.username])
    second = _task(owner, pid, title="Second", assignees=[ana.username])
    owner.client.post(f"/api/v1/tasks/{first['id']}/comments", json={"body": "Ping"})
    eventually(lambda: ana.client.get("/api/v1/me/notifications").json()["unread_count"] == 3)
    tab = browse(ana)
    page = tab.page("/notifications").text
    assert "3 unread" in page
    # Groups: the task with the newest notification first; its own newest first.
    order = re.findall(r'<section class="notification-group"[^>]*data-task-id="(\d+)"', page)
    assert order == [str(first["id"]), str(second["id"])]
    assert "First &lt;task&gt;" in page
    assert f'href="/tasks/{first["id"]}"' in page
    assert page.index("commented") < page.index("assigned you")
    ids = re.findall(r'name="ids" value="(\d+)"', page)
    assert len(ids) == 3
    token = _csrf(page)
    done = tab.post("/notifications/read", data={"csrf_token": token, "ids": ids[0]},
                    follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/notifications")
    assert "2 unread" in tab.page("/notifications").text
    tab.post("/notifications/read", data={"csrf_token": token, "all": "true"})
    assert "No unread notifications." in tab.page("/notifications?unread=1").text
    assert tab.post("/notifications/read", data={"csrf_token": token}).status_code == 422
    # The bell is in every page's header.
    assert 'data-bell aria-label="Notifications"' in tab.page("/projects").text


def test_a_comment_mentioning_a_non_member_is_refused_readably(
        server: Server, owner: User, browse: Any, make_user: Any,
        project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, outsider = make_user("ana"), make_user("outsider")
    add_member(owner, pid, ana, "editor")
    task = _task(owner, pid)
    tab = browse(owner)
    page = tab.page(f"/tasks/{task['id']}").text
    assert f'data-mention-members="[&#34;{ana.username}&#34;' in page or \
        f'&#34;{ana.username}&#34;' in page
    token = _csrf(page)
    refused = tab.htmx("POST", f"/tasks/{task['id']}/comments", data={
        "csrf_token": token, "body": f"hey @{outsider.username}"})
    assert refused.status_code == 422
    assert f"@{outsider.username} is not a member of this project" in refused.text
    assert f"hey @{outsider.username}" in refused.text  # what was typed is kept
    assert server.sql("SELECT * FROM comments WHERE task_id = ?", (task["id"],)) == []
    fine = tab.htmx("POST", f"/tasks/{task['id']}/comments", data={
        "csrf_token": token, "body": f"hey @{ana.username}"})
    assert fine.status_code == 200
    eventually(lambda: [n["kind"] for n in ana.client.get(
        "/api/v1/me/notifications").json()["items"]] == ["mentioned"])


def test_a_description_mentioning_a_non_member_is_refused_readably(
        server: Server, owner: User, browse: Any, project: dict[str, Any]) -> None:
    task = _task(owner, project["id"], title="Spec")
    tab = browse(owner)
    token = _csrf(tab.page(f"/tasks/{task['id']}").text)
    refused = tab.htmx("POST", f"/tasks/{task['id']}", data={
        **the_form(task, description="Ask @stranger-danger"), "csrf_token": token})
    assert refused.status_code == 422
    assert "@stranger-danger is not a member of this project" in refused.text
    assert "Ask @stranger-danger</textarea>" in refused.text  # kept as typed
    assert owner.client.get(f"/api/v1/tasks/{task['id']}").json()["version"] == \
        task["version"]
