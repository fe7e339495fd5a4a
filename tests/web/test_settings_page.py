"""Project settings (owners only): rename and describe, archive, delete."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server, User, add_member


def project_row(server: Server, project_id: int) -> Any:
    rows = server.sql("SELECT name, description, archived FROM projects WHERE id = ?",
                      (project_id,))
    return rows[0] if rows else None


def kinds(server: Server, project_id: int) -> list[str]:
    return [r["kind"] for r in server.sql(
        "SELECT kind FROM events WHERE project_id = ? AND kind LIKE 'project.%' ORDER BY id",
        (project_id,))]


def test_owner_sees_the_settings(browse: Any, owner: User, project: dict[str, Any]) -> None:
    page = browse(owner).page(f"/projects/{project['id']}/settings")
    assert page.status_code == 200
    assert 'aria-current="page">Settings</a>' in page.text
    assert 'id="f-name" name="name" type="text" value="Launch"' in page.text
    assert "Archive project" in page.text and "Delete project" in page.text
    assert 'data-confirm="Delete “Launch” and everything in it' in page.text


def test_rename_and_describe(browse: Any, owner: User, server: Server,
                             project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/settings",
                        {"name": "  Launch 2.0 ", "description": "The **second** try"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{pid}/settings?done=saved"
    row = project_row(server, pid)
    assert (row["name"], row["description"]) == ("Launch 2.0", "The **second** try")
    assert kinds(server, pid)[-1] == "project.updated"
    page = tab.page(response.headers["location"])
    assert 'role="status">Saved.</p>' in page.text
    assert "The **second** try</textarea>" in page.text


def test_an_empty_name_is_shown_inline_and_nothing_changes(browse: Any, owner: User,
                                                           server: Server,
                                                           project: dict[str, Any]) -> None:
    pid = project["id"]
    response = browse(owner).post(f"/projects/{pid}/settings",
                                  {"name": "   ", "description": "kept as typed"})
    assert response.status_code == 422
    assert "Fill this in" in response.text
    assert "kept as typed</textarea>" in response.text
    assert project_row(server, pid)["name"] == "Launch"
    assert kinds(server, pid) == ["project.created"]


def test_archive_and_unarchive(browse: Any, owner: User, server: Server,
                               project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/archive", {"archived": "true"})
    assert response.status_code == 303
    assert project_row(server, pid)["archived"] == 1
    page = tab.page(response.headers["location"])
    assert "The project is archived" in page.text and "Unarchive project" in page.text
    assert '<span class="badge">archived</span>' in page.text
    assert tab.post(f"/projects/{pid}/archive", {"archived": "false"}).status_code == 303
    assert project_row(server, pid)["archived"] == 0
    assert tab.post(f"/projects/{pid}/archive", {"archived": "perhaps"}).status_code == 422
    assert kinds(server, pid) == ["project.created", "project.updated", "project.updated"]


def test_delete_the_project(browse: Any, owner: User, server: Server,
                            project: dict[str, Any]) -> None:
    pid = project["id"]
    owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "Gone soon"})
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/delete")
    assert response.status_code == 303
    assert response.headers["location"] == "/projects"
    assert project_row(server, pid) is None
    assert server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ?", (pid,))[0][0] == 0
    assert kinds(server, pid)[-1] == "project.deleted"
    assert tab.page(f"/projects/{pid}/settings").status_code == 404


def test_editors_and_viewers_get_403(browse: Any, owner: User, make_user: Any, server: Server,
                                     project: dict[str, Any]) -> None:
    pid = project["id"]
    for role in ("editor", "viewer"):
        member = make_user(role)
        add_member(owner, pid, member, role)
        tab = browse(member)
        page = tab.page(f"/projects/{pid}/settings")
        assert page.status_code == 403
        assert "only an owner" in page.text.lower()
        assert f'href="/projects/{pid}/settings"' not in tab.page(f"/projects/{pid}/list").text
        assert tab.post(f"/projects/{pid}/settings", {"name": "Mine"}).status_code == 403
        assert tab.post(f"/projects/{pid}/archive", {"archived": "true"}).status_code == 403
        assert tab.post(f"/projects/{pid}/delete").status_code == 403
    row = project_row(server, pid)
    assert (row["name"], row["archived"]) == ("Launch", 0)


def test_strangers_get_404(browse: Any, server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse()
    assert tab.page(f"/projects/{pid}/settings").status_code == 404
    assert tab.post(f"/projects/{pid}/settings", {"name": "Mine"}).status_code == 404
    assert tab.post(f"/projects/{pid}/delete").status_code == 404
    assert project_row(server, pid)["name"] == "Launch"


def test_names_are_escaped(browse: Any, owner: User, project: dict[str, Any]) -> None:
    evil = "<script>alert(1)</script>"
    tab = browse(owner)
    tab.post(f"/projects/{project['id']}/settings", {"name": evil, "description": evil})
    page = tab.page(f"/projects/{project['id']}/settings")
    assert evil not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
