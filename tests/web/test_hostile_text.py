"""Web forms carrying text no database column may hold (NUL): a clear 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Server, User

NUL = "before\x00after"


@pytest.mark.parametrize("path, field, more", [
    ("/projects", "name", {}),
    ("/projects/{pid}/tasks", "title", {"column_id": "{cid}"}),
    ("/projects/{pid}/columns", "name", {}),
    ("/projects/{pid}/labels", "name", {"color": "#e5484d"}),
    ("/projects/{pid}/settings", "name", {}),
    ("/tasks/{tid}", "title", {}),
    ("/tasks/{tid}", "description", {"title": "still a title"}),
    ("/tasks/{tid}/comments", "body", {}),
    ("/tasks/{tid}/subtasks", "title", {}),
])
def test_a_nul_in_a_web_form_is_refused_plainly(server: Server, browse: Any, owner: User,
                                                project: dict[str, Any], path: str,
                                                field: str, more: dict[str, str]) -> None:
    pid = project["id"]
    tid = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "t"}).json()["id"]
    cid = owner.client.get(f"/api/v1/projects/{pid}/columns").json()[0]["id"]
    tab = browse(owner)
    before = server.sql("SELECT MAX(id) FROM events")[0][0]
    response = tab.post(path.format(pid=pid, tid=tid),
                        data={field: NUL, **{k: v.format(cid=cid) for k, v in more.items()}})
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert "NUL" in response.text or "character" in response.text
    assert server.sql("SELECT MAX(id) FROM events")[0][0] == before  # nothing written


def test_a_nul_in_a_sign_in_form_is_refused_plainly(server: Server, anon: Any) -> None:
    response = anon.post("/signin", data={"username": NUL, "password": NUL},
                         headers={"Sec-Fetch-Site": "same-origin"})
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


def test_a_nul_in_a_saved_view_name_saves_nothing(server: Server, browse: Any, owner: User,
                                                  project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    response = tab.post(f"/projects/{pid}/views", data={"name": NUL, "query": "is:open"})
    assert response.status_code == 303
    page = tab.page(response.headers["location"])
    assert page.status_code == 200
    assert "view_message=name" in response.headers["location"]
    assert server.sql("SELECT COUNT(*) FROM saved_views WHERE project_id = ?", (pid,))[0][0] == 0


@pytest.mark.parametrize("path, params", [
    ("/projects/{pid}/list", {"q": NUL}),
    ("/projects/{pid}/list", {"assignee": NUL}),
    ("/projects/{pid}/activity", {"person": NUL}),
    ("/search", {"q": NUL}),
    ("/my-tasks", {"q": NUL}),
])
def test_a_nul_in_a_page_address_is_never_a_server_error(
        browse: Any, owner: User, project: dict[str, Any], path: str,
        params: dict[str, str]) -> None:
    page = browse(owner).page(path.format(pid=project["id"]), params=params)
    assert page.status_code < 500, page.text[:300]
    assert "<html" in page.text
