"""Every web form refuses a forged cross-site post, whatever Authorization header rides along.

Behind a reverse proxy with HTTP Basic auth, browsers attach `Authorization: Basic …`
to every request to the site by themselves, cross-site form posts included: such a
header says nothing about who made the request, so it must not excuse a form from
the CSRF checks. Only a bearer token the API accepts does, and only on /api/.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tasklette.web.routes import web_routes
from tests.conftest import Server, User, add_member

BASIC = "Basic " + base64.b64encode(b"proxy-user:proxy-password").decode()
FORGED_FIELDS = {
    "name": "Forged", "title": "Forged", "body": "Forged", "description": "Forged",
    "role": "viewer", "password": "forged password", "password_again": "forged password",
    "current_password": "correct horse battery", "action": "off", "archived": "true",
    "completed": "true", "color": "#ff0000", "query": "sort=title", "source": "auto",
}
# How a browser describes a cross-site post: it names the other site, or (older
# browsers, privacy extensions) says nothing at all and the form has no CSRF token.
CROSS_SITE = {
    "sec-fetch-site": {"Sec-Fetch-Site": "cross-site"},
    "origin": {"Origin": "https://evil.example"},
    "silent": {},
}


def _post_routes() -> list[str]:
    paths = []
    for route in web_routes():
        if isinstance(route, Route) and route.methods and "POST" in route.methods:
            paths.append(route.path)
    return paths


def _snapshot(server: Server) -> dict[str, list[str]]:
    """Every row of every table (sessions by id only: their last-seen time may move)."""
    if server.settings.database_url:
        tables = [row[0] for row in server.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    else:
        tables = [row[0] for row in server.sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
    state = {}
    for table in tables:
        query = "SELECT id_hash FROM sessions" if table == "sessions" \
            else f"SELECT * FROM {table}"
        state[table] = sorted(repr(tuple(row)) for row in server.sql(query))
    return state


@pytest.fixture
def victim(server: Server, owner: User, make_user: Any, browse: Any) -> dict[str, Any]:
    """A signed-in owner with one of everything a form can change."""
    api = owner.client
    project = api.post("/api/v1/projects", json={"name": "Target"}).json()
    pid = project["id"]
    column = api.get(f"/api/v1/projects/{pid}/columns").json()[0]
    task = api.post(f"/api/v1/projects/{pid}/tasks", json={"title": "Task"}).json()
    comment = api.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "Hi"}).json()
    label = api.post(f"/api/v1/projects/{pid}/labels",
                     json={"name": "Bug", "color": "#cc0000"}).json()
    view = api.post(f"/api/v1/projects/{pid}/views", json={"name": "Mine"}).json()
    attachment = api.post(f"/api/v1/tasks/{task['id']}/attachments",
                          files={"file": ("a.txt", b"hello")}).json()[0]
    member = make_user("member")
    add_member(owner, pid, member, "editor")
    token_id = api.get("/api/v1/tokens").json()[0]["id"]
    tab = browse(owner)
    return {"tab": tab, "token": owner.token, "params": {
        "project_id": pid, "column_id": column["id"], "task_id": task["id"],
        "comment_id": comment["id"], "label_id": label["id"], "view_id": view["id"],
        "attachment_id": attachment["id"], "username": member.username,
        "token_id": token_id, "job_id": 1}}


def _url(path: str, params: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(params[m[1]]), path)


def _forge(server: Server, victim: dict[str, Any], path: str,
           headers: dict[str, str]) -> httpx.Response:
    """Post the form at `path` as another site would, with the victim's cookie."""
    cookies = {"tasklette_session": victim["tab"].client.cookies["tasklette_session"]}
    with httpx.Client(base_url=server.base_url, cookies=cookies, timeout=30) as bare:
        url = _url(path, victim["params"])
        if path.endswith(("/attachments", "/import")):
            return bare.post(url, data={"source": "auto", "project": "Forged"},
                             headers=headers, files={"file": ("board.json", b'{"name": "Forged"}')})
        return bare.post(url, data=FORGED_FIELDS, headers=headers)


def test_every_web_form_refuses_a_cross_site_post_with_basic_auth(
        server: Server, victim: dict[str, Any]) -> None:
    routes = _post_routes()
    assert "/projects" in routes and "/signout" in routes and len(routes) > 30
    before = _snapshot(server)
    accepted = []
    for path in routes:
        for how, headers in CROSS_SITE.items():
            response = _forge(server, victim, path, {**headers, "Authorization": BASIC})
            if response.status_code != 403:
                accepted.append((path, how, response.status_code))
    assert accepted == [], accepted
    assert _snapshot(server) == before
    # The victim is still signed in: not even the sign-out form was forged.
    assert victim["tab"].page("/account").status_code == 200


def test_a_bearer_token_does_not_excuse_a_web_form(server: Server,
                                                   victim: dict[str, Any]) -> None:
    before = _snapshot(server)
    accepted = []
    for path in _post_routes():
        for how, headers in CROSS_SITE.items():
            response = _forge(server, victim, path,
                              {**headers, "Authorization": f"Bearer {victim['token']}"})
            if response.status_code != 403:
                accepted.append((path, how, response.status_code))
    assert accepted == [], accepted
    assert _snapshot(server) == before


def test_the_api_refuses_a_cross_site_post_with_basic_auth(server: Server,
                                                           victim: dict[str, Any]) -> None:
    before = _snapshot(server)
    cookies = {"tasklette_session": victim["tab"].client.cookies["tasklette_session"]}
    with httpx.Client(base_url=server.base_url, cookies=cookies) as bare:
        for headers in CROSS_SITE.values():
            response = bare.post("/api/v1/projects", json={"name": "Forged"},
                                 headers={**headers, "Authorization": BASIC})
            assert response.status_code == 403, response.text
            assert response.headers["content-type"] == "application/problem+json"
    assert _snapshot(server) == before


def test_behind_a_basic_auth_proxy_the_web_ui_still_works(server: Server,
                                                          victim: dict[str, Any]) -> None:
    tab = victim["tab"]
    same_site = {"Authorization": BASIC}  # the tab sends Sec-Fetch-Site: same-origin
    page = tab.post("/projects", {"name": "Behind the proxy"}, headers=same_site)
    assert page.status_code == 303
    api = tab.client.post("/api/v1/projects", json={"name": "Its API calls"},
                          headers=same_site)
    assert api.status_code == 201, api.text
    names = {row[0] for row in server.sql("SELECT name FROM projects")}
    assert {"Behind the proxy", "Its API calls"} <= names


def test_an_api_client_with_a_token_is_not_a_browser(server: Server, owner: User) -> None:
    # A bearer token is not sent by browsers on their own: its holder made the request.
    response = owner.client.post("/api/v1/projects", json={"name": "Scripted"},
                                 headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 201, response.text
    forged = owner.client.post("/api/v1/projects", json={"name": "Scripted"},
                               headers={"Authorization": "Bearer tsk_not-a-token",
                                        "Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 401
