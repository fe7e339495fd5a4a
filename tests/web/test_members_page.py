"""The members page: roles listed; owners add, change and remove; anyone can leave."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx

from tasklette.services import users
from tests.conftest import Server, User, add_member


def roles(server: Server, project_id: int) -> dict[int, str]:
    return {r["user_id"]: r["role"] for r in server.sql(
        "SELECT user_id, role FROM project_members WHERE project_id = ?", (project_id,))}


def events(server: Server, project_id: int) -> list[tuple[str, int]]:
    return [(r["kind"], r["entity_id"]) for r in server.sql(
        "SELECT kind, entity_id FROM events WHERE project_id = ? AND kind LIKE 'member.%' "
        "ORDER BY id", (project_id,))]


def row_of(response: httpx.Response, username: str) -> str:
    match = re.search(rf'<tr data-username="{username}".*?</tr>', response.text, re.S)
    assert match, f"{username} is not on the page"
    return match.group(0)


def test_the_list_shows_everyone_with_their_role(browse: Any, owner: User, make_user: Any,
                                                 project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "viewer")
    page = browse(owner).page(f"/projects/{pid}/members")
    assert page.status_code == 200
    assert 'aria-current="page">Members</a>' in page.text
    assert "2 members" in page.text
    assert '<option value="owner" selected>Owner</option>' in row_of(page, owner.username)
    assert '<option value="viewer" selected>Viewer</option>' in row_of(page, ana.username)
    assert ">you</span>" in row_of(page, owner.username)


def test_owner_adds_a_member_with_a_role(browse: Any, owner: User, make_user: Any,
                                         server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    ben = make_user("ben")
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/members",
                        {"username": ben.username.upper(), "role": "viewer"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{pid}/members"
    assert roles(server, pid)[ben.id] == "viewer"
    assert events(server, pid) == [("member.added", ben.id)]
    assert f"@{ben.username}" in tab.page(f"/projects/{pid}/members").text


def test_adding_mistakes_are_shown_inline(browse: Any, owner: User, make_user: Any,
                                          server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    ben = make_user("ben")
    add_member(owner, pid, ben, "editor")
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/members", {"username": "nobody-here", "role": "editor"})
    assert response.status_code == 422
    assert "There is no user named &#39;nobody-here&#39;." in response.text
    assert 'value="nobody-here"' in response.text
    response = tab.post(f"/projects/{pid}/members", {"username": ben.username, "role": "viewer"})
    assert response.status_code == 409
    assert "is already a member of this project" in response.text
    assert '<option value="viewer" selected>Viewer</option>' in response.text  # kept
    response = tab.post(f"/projects/{pid}/members", {"username": "ben", "role": "boss"})
    assert response.status_code == 422
    assert 'aria-describedby="e-role"' in response.text
    response = tab.post(f"/projects/{pid}/members", {"username": "no spaces!", "role": "editor"})
    assert response.status_code == 422
    assert "A username is 1 to 40 letters" in response.text
    assert roles(server, pid) == {owner.id: "owner", ben.id: "editor"}
    assert events(server, pid) == [("member.added", ben.id)]


def test_owner_changes_roles_but_a_project_keeps_an_owner(browse: Any, owner: User,
                                                          make_user: Any, server: Server,
                                                          project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/members/{ana.username}/role", {"role": "viewer"})
    assert response.status_code == 303
    assert roles(server, pid)[ana.id] == "viewer"
    assert events(server, pid)[-1] == ("member.updated", ana.id)
    response = tab.post(f"/projects/{pid}/members/{owner.username}/role", {"role": "editor"})
    assert response.status_code == 409
    row = row_of(response, owner.username)
    assert "A project must keep at least one owner" in row
    assert f'role="alert">{owner.username}: A project must keep' in response.text
    assert roles(server, pid)[owner.id] == "owner"
    # With a second owner, the first may step down.
    tab.post(f"/projects/{pid}/members/{ana.username}/role", {"role": "owner"})
    response = tab.post(f"/projects/{pid}/members/{owner.username}/role", {"role": "editor"})
    assert response.status_code == 303
    assert roles(server, pid) == {owner.id: "editor", ana.id: "owner"}
    # Now an editor: the page no longer offers to manage anyone.
    page = tab.page(f"/projects/{pid}/members")
    assert "Add member" not in page.text and "/role" not in page.text
    assert 'aria-current="page">Settings' not in page.text


def test_owner_removes_a_member(browse: Any, owner: User, make_user: Any, server: Server,
                                project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                             json={"title": "T", "assignees": [ana.username]}).json()
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/members")
    assert f'action="/projects/{pid}/members/{ana.username}/remove"' in page.text
    assert f'action="/projects/{pid}/members/{owner.username}/remove"' not in page.text
    response = tab.post(f"/projects/{pid}/members/{ana.username}/remove")
    assert response.status_code == 303
    assert ana.id not in roles(server, pid)
    assert events(server, pid)[-1] == ("member.removed", ana.id)
    assert server.sql("SELECT COUNT(*) FROM task_assignees WHERE task_id = ?",
                      (task["id"],))[0][0] == 0
    assert browse(ana).page(f"/projects/{pid}/members").status_code == 404


def test_anyone_can_leave_but_not_the_last_owner(browse: Any, owner: User, make_user: Any,
                                                 server: Server,
                                                 project: dict[str, Any]) -> None:
    pid = project["id"]
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    tab = browse(viewer)
    page = tab.page(f"/projects/{pid}/members")
    assert f'action="/projects/{pid}/leave"' in page.text
    response = tab.post(f"/projects/{pid}/leave")
    assert response.status_code == 303
    assert response.headers["location"] == "/projects"
    assert viewer.id not in roles(server, pid)
    assert events(server, pid)[-1] == ("member.removed", viewer.id)
    mine = browse(owner)
    assert "You are its only owner" in mine.page(f"/projects/{pid}/members").text
    response = mine.post(f"/projects/{pid}/leave")
    assert response.status_code == 409
    assert 'id="leave-error">A project must keep at least one owner' in response.text
    assert 'role="alert">You are still a member.' in response.text
    assert roles(server, pid) == {owner.id: "owner"}


def test_non_owners_cannot_manage(browse: Any, owner: User, make_user: Any, server: Server,
                                  project: dict[str, Any]) -> None:
    pid = project["id"]
    editor, viewer, other = make_user("editor"), make_user("viewer"), make_user("other")
    add_member(owner, pid, editor, "editor")
    add_member(owner, pid, viewer, "viewer")
    before = roles(server, pid)
    for user in (editor, viewer):
        tab = browse(user)
        page = tab.page(f"/projects/{pid}/members")
        assert page.status_code == 200
        assert "Add member" not in page.text
        assert "<select" not in page.text and "/remove" not in page.text
        assert "Leave project" in page.text
        assert tab.post(f"/projects/{pid}/members",
                        {"username": other.username, "role": "owner"}).status_code == 403
        assert tab.post(f"/projects/{pid}/members/{user.username}/role",
                        {"role": "owner"}).status_code == 403
        assert tab.post(f"/projects/{pid}/members/{owner.username}/remove").status_code == 403
    assert roles(server, pid) == before


def test_strangers_get_404(browse: Any, owner: User, server: Server,
                           project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse()
    assert tab.page(f"/projects/{pid}/members").status_code == 404
    assert tab.post(f"/projects/{pid}/members",
                    {"username": tab.user.username, "role": "owner"}).status_code == 404
    assert tab.post(f"/projects/{pid}/leave").status_code == 404
    assert tab.post(f"/projects/{pid}/members/{owner.username}/role",
                    {"role": "viewer"}).status_code == 404
    assert roles(server, pid) == {owner.id: "owner"}


def test_display_names_are_escaped(browse: Any, owner: User, server: Server,
                                   project: dict[str, Any]) -> None:
    evil = "<script>alert(1)</script>"
    row = server.call(users.create(server.db, f"mallory-{secrets.token_hex(4)}",
                                   "correct horse battery", evil))
    response = browse(owner).post(f"/projects/{project['id']}/members",
                                  {"username": row["username"], "role": "viewer"})
    assert response.status_code == 303
    page = browse(owner).page(f"/projects/{project['id']}/members")
    assert evil not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
