"""The labels page: list with counts, create, rename and recolour, delete; roles."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Server, User, add_member


def make_label(user: User, project_id: int, name: str, color: str = "#e5484d") -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/labels",
                                json={"name": name, "color": color})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def labels_in(server: Server, project_id: int) -> list[tuple[str, str]]:
    return [(r["name"], r["color"]) for r in server.sql(
        "SELECT name, color FROM labels WHERE project_id = ? ORDER BY id", (project_id,))]


def events(server: Server, project_id: int, prefix: str = "label.") -> list[str]:
    return [r["kind"] for r in server.sql(
        "SELECT kind FROM events WHERE project_id = ? AND kind LIKE ? ORDER BY id",
        (project_id, prefix + "%"))]


def row_of(response: httpx.Response, label_id: int) -> str:
    match = re.search(rf'<tr data-label-id="{label_id}".*?</tr>', response.text, re.S)
    assert match, f"label {label_id} is not on the page"
    return match.group(0)


def test_the_list_shows_swatch_name_and_task_count(browse: Any, owner: User, server: Server,
                                                   project: dict[str, Any]) -> None:
    pid = project["id"]
    bug = make_label(owner, pid, "bug", "#E5484D")
    make_label(owner, pid, "Design", "#3e63dd")
    for title in ("One", "Two"):
        owner.client.post(f"/api/v1/projects/{pid}/tasks",
                          json={"title": title, "label_ids": [bug["id"]]})
    page = browse(owner).page(f"/projects/{pid}/labels")
    assert page.status_code == 200
    assert 'aria-current="page">Labels</a>' in page.text
    row = row_of(page, bug["id"])
    assert 'style="background: #e5484d"' in row
    assert f'href="/projects/{pid}/list?label={bug["id"]}">2 tasks</a>' in row
    assert page.text.index(">bug</span>") < page.text.index(">Design</span>")


def test_create_a_label(browse: Any, owner: User, server: Server,
                        project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/labels")
    assert "No labels yet" in page.text
    assert 'type="color"' in page.text  # a picker beside the #rrggbb field
    response = tab.post(f"/projects/{pid}/labels", {"name": " blocked ", "color": "#A35200"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{pid}/labels"
    assert labels_in(server, pid) == [("blocked", "#a35200")]
    assert events(server, pid) == ["label.created"]
    assert ">blocked</span>" in tab.page(f"/projects/{pid}/labels").text
    # The short form #rgb is accepted and stored in full.
    tab.post(f"/projects/{pid}/labels", {"name": "ok", "color": "#0a0"})
    assert labels_in(server, pid)[-1] == ("ok", "#00aa00")


def test_duplicate_name_is_shown_inline(browse: Any, owner: User, server: Server,
                                        project: dict[str, Any]) -> None:
    pid = project["id"]
    make_label(owner, pid, "bug")
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/labels", {"name": "bug", "color": "#123456"})
    assert response.status_code == 409
    assert "The project already has a label named &#39;bug&#39;." in response.text
    assert 'id="f-name" name="name" type="text" value="bug"' in response.text
    assert 'value="#123456"' in response.text
    assert labels_in(server, pid) == [("bug", "#e5484d")]
    assert events(server, pid) == ["label.created"]


def test_invalid_colour_or_name_is_shown_inline_and_nothing_is_written(
        browse: Any, owner: User, server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/labels", {"name": "urgent", "color": "red"})
    assert response.status_code == 422
    assert "Write a colour as #rrggbb, e.g. #e5484d." in response.text
    assert 'name="color" type="text" value="red"' in response.text
    assert 'value="urgent"' in response.text
    assert 'aria-invalid="true" aria-describedby="f-color-error"' in response.text
    response = tab.post(f"/projects/{pid}/labels", {"name": "  ", "color": "#123456"})
    assert response.status_code == 422
    assert "Fill this in" in response.text
    response = tab.post(f"/projects/{pid}/labels", {"name": "x" * 101, "color": "#123456"})
    assert response.status_code == 422
    assert labels_in(server, pid) == []
    assert events(server, pid) == []


def test_rename_and_recolour(browse: Any, owner: User, server: Server,
                             project: dict[str, Any]) -> None:
    pid = project["id"]
    bug = make_label(owner, pid, "bug")
    make_label(owner, pid, "feature", "#46a758")
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/labels")
    row = row_of(page, bug["id"])
    assert f'action="/projects/{pid}/labels/{bug["id"]}"' in row
    assert 'value="bug"' in row and 'value="#e5484d"' in row
    response = tab.post(f"/projects/{pid}/labels/{bug['id']}",
                        {"name": "defect", "color": "#8e4ec6"})
    assert response.status_code == 303
    assert labels_in(server, pid)[0] == ("defect", "#8e4ec6")
    assert events(server, pid)[-1] == "label.updated"
    # A clash or a bad colour is shown in that label's row, with what was typed.
    response = tab.post(f"/projects/{pid}/labels/{bug['id']}",
                        {"name": "feature", "color": "#8e4ec6"})
    assert response.status_code == 409
    row = row_of(response, bug["id"])
    assert "already has a label named &#39;feature&#39;" in row and 'value="feature"' in row
    assert 'role="alert">The label “defect” was not changed: The project already' in response.text
    response = tab.post(f"/projects/{pid}/labels/{bug['id']}",
                        {"name": "defect", "color": "#zzzzzz"})
    assert response.status_code == 422
    row = row_of(response, bug["id"])
    assert "Write a colour as #rrggbb" in row and 'value="#zzzzzz"' in row
    assert labels_in(server, pid)[0] == ("defect", "#8e4ec6")
    assert events(server, pid).count("label.updated") == 1


def test_delete_a_label(browse: Any, owner: User, server: Server,
                        project: dict[str, Any]) -> None:
    pid = project["id"]
    bug = make_label(owner, pid, "bug")
    task = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                             json={"title": "T", "label_ids": [bug["id"]]}).json()
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/labels")
    assert 'data-confirm="Delete the label “bug”? It is removed from 1 task."' in page.text
    response = tab.post(f"/projects/{pid}/labels/{bug['id']}/delete")
    assert response.status_code == 303
    assert labels_in(server, pid) == []
    assert events(server, pid)[-1] == "label.deleted"
    assert owner.client.get(f"/api/v1/tasks/{task['id']}").json()["labels"] == []


def test_a_label_of_another_project_is_not_found_through_this_one(
        browse: Any, owner: User, server: Server, project: dict[str, Any]) -> None:
    other = owner.client.post("/api/v1/projects", json={"name": "Other"}).json()
    theirs = make_label(owner, other["id"], "theirs")
    tab = browse(owner)
    response = tab.post(f"/projects/{project['id']}/labels/{theirs['id']}/delete")
    assert response.status_code == 404
    assert labels_in(server, other["id"]) == [("theirs", "#e5484d")]


def test_viewers_see_the_list_only_and_cannot_post(browse: Any, owner: User, make_user: Any,
                                                   server: Server,
                                                   project: dict[str, Any]) -> None:
    pid = project["id"]
    bug = make_label(owner, pid, "bug")
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    tab = browse(viewer)
    page = tab.page(f"/projects/{pid}/labels")
    assert page.status_code == 200
    assert ">bug</span>" in page.text
    assert "<form method=\"post\" action=\"/projects/" not in page.text
    assert "Add label" not in page.text and "Delete" not in page.text
    assert tab.post(f"/projects/{pid}/labels", {"name": "x", "color": "#123456"}
                    ).status_code == 403
    assert tab.post(f"/projects/{pid}/labels", {"name": "", "color": "bad"}).status_code == 403
    assert tab.post(f"/projects/{pid}/labels/{bug['id']}", {"name": "y"}).status_code == 403
    assert tab.post(f"/projects/{pid}/labels/{bug['id']}/delete").status_code == 403
    assert labels_in(server, pid) == [("bug", "#e5484d")]
    editor = make_user("editor")
    add_member(owner, pid, editor, "editor")
    assert "Add label" in browse(editor).page(f"/projects/{pid}/labels").text


def test_strangers_get_404(browse: Any, owner: User, server: Server,
                           project: dict[str, Any]) -> None:
    pid = project["id"]
    bug = make_label(owner, pid, "bug")
    tab = browse()
    assert tab.page(f"/projects/{pid}/labels").status_code == 404
    assert tab.post(f"/projects/{pid}/labels", {"name": "x", "color": "#123456"}
                    ).status_code == 404
    assert tab.post(f"/projects/{pid}/labels/{bug['id']}", {"name": "y"}).status_code == 404
    assert tab.post(f"/projects/{pid}/labels/{bug['id']}/delete").status_code == 404
    assert labels_in(server, pid) == [("bug", "#e5484d")]


def test_forms_without_the_token_are_refused(server: Server, owner: User,
                                             project: dict[str, Any], browse: Any) -> None:
    pid = project["id"]
    tab = browse(owner)
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      tab.page(f"/projects/{pid}/labels").text)
    assert token
    # A request that does not say where it comes from must carry the form's token.
    with httpx.Client(base_url=server.base_url, cookies=tab.client.cookies) as bare:
        refused = bare.post(f"/projects/{pid}/labels", data={"name": "x", "color": "#123456"})
        assert refused.status_code == 403
        assert labels_in(server, pid) == []
        accepted = bare.post(f"/projects/{pid}/labels", data={
            "name": "x", "color": "#123456", "csrf_token": token.group(1)})
        assert accepted.status_code == 303
    assert labels_in(server, pid) == [("x", "#123456")]


def test_label_names_are_escaped(browse: Any, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    evil = "<script>alert(1)</script>"
    make_label(owner, pid, evil)
    page = browse(owner).page(f"/projects/{pid}/labels")
    assert evil not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
