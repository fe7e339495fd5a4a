"""Numbers from outside, written with digits that are not ASCII: refused cleanly, never a 500.

`'²'.isdigit()` is true and `int('²')` raises; `int('٣')` is 3. Every entry point reads
numbers as ASCII digits only, and answers a bad one with a clear 4xx (or ignores it
where HTTP says to). Headers reach the app decoded as latin-1, so `b"\\xb2"` is `²`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tasklette.numbers import NotANumber, int_or_none, parse_hex, parse_int
from tasklette.settings import SettingsError, load_settings
from tests.conftest import Server, User

SUPERSCRIPT_TWO = b"\xb2"  # '²' once Starlette decodes the header as latin-1
ODD_DIGITS = ["²", "①", "٣", "\uff13", "+3", " 3", "3 ", "1_0", "-3", "", "3.0"]


# --- the parser itself ----------------------------------------------------------------


@pytest.mark.parametrize("text", ODD_DIGITS)
def test_only_ascii_digits_are_a_number(text: str) -> None:
    with pytest.raises(NotANumber):
        parse_int(text)
    assert int_or_none(text) is None


def test_numbers_are_bounded_and_signs_explicit() -> None:
    assert parse_int("0") == 0 and parse_int("007") == 7
    assert parse_int("9" * 18) == 10**18 - 1
    with pytest.raises(NotANumber):
        parse_int("9" * 19)
    assert parse_int("12", max_digits=2) == 12
    with pytest.raises(NotANumber):
        parse_int("123", max_digits=2)
    assert parse_int("-5", signed=True) == -5
    for text in ("-", "--5", "+5", "-٣"):
        with pytest.raises(NotANumber):
            parse_int(text, signed=True)
    assert parse_hex("5f3a0c1e") == 0x5F3A0C1E
    for text in ("٣٣٣٣٣٣٣٣", "+1_2_3_4", " 1", "0x10", "g"):
        with pytest.raises(NotANumber):
            parse_hex(text)


def test_settings_take_ascii_numbers_only() -> None:
    assert load_settings({"TASKLETTE_PORT": "8080"}).port == 8080
    for raw in ("٨٠٨٠", "8_080", "+8080", "²"):
        with pytest.raises(SettingsError, match="TASKLETTE_PORT"):
            load_settings({"TASKLETTE_PORT": raw})


# --- helpers ----------------------------------------------------------------------------


def asgi(server: Server, method: str, path: str, headers: dict[str, Any],
         content: bytes = b"") -> httpx.Response:
    """A request handed to the app directly, as a server that does not check headers would
    (uvicorn itself already refuses a Content-Length that is not digits)."""
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.request(method, path, headers=headers, content=content)
    return server.call(send())


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def make_task(user: User, project_id: int, title: str = "Task") -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks", json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def row_counts(server: Server) -> tuple[int, int, int]:
    return tuple(server.sql(f"SELECT COUNT(*) FROM {table}")[0][0]  # type: ignore[return-value]
                 for table in ("projects", "tasks", "events"))


# --- headers ----------------------------------------------------------------------------


def test_if_match_in_odd_digits_is_400(server: Server, owner: User,
                                       project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"])
    for value in (b'"' + SUPERSCRIPT_TWO + b'"', b"W/\"\xb9\"", b'"+1"', b'"1_0"'):
        response = owner.client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "New"},
                                      headers={"if-match": value})
        assert "If-Match" in is_problem(response, 400)["detail"]
    assert owner.client.get(f"/api/v1/tasks/{task['id']}").json()["title"] == "Task"


def test_a_content_length_in_odd_digits_is_400(server: Server, owner: User,
                                               project: dict[str, Any]) -> None:
    before = row_counts(server)
    auth = {"authorization": f"Bearer {owner.token}"}
    body = json.dumps({"name": "Never"}).encode()
    for length in (SUPERSCRIPT_TWO, b"+13", b"1_3"):
        headers = {**auth, "content-type": "application/json", "content-length": length}
        response = asgi(server, "POST", "/api/v1/projects", headers, body)
        assert "Content-Length" in is_problem(response, 400)["detail"]
        response = asgi(server, "POST", "/api/v1/imports/todoist", headers, b"TYPE,CONTENT\n")
        assert "Content-Length" in is_problem(response, 400)["detail"]
    task = make_task(owner, project["id"])
    before = row_counts(server)
    response = asgi(server, "POST", f"/api/v1/tasks/{task['id']}/attachments",
                    {**auth, "content-type": "multipart/form-data; boundary=x",
                     "content-length": SUPERSCRIPT_TWO}, b"--x--\r\n")
    assert "Content-Length" in is_problem(response, 400)["detail"]
    assert row_counts(server) == before


def test_a_range_in_odd_digits_is_ignored(server: Server, owner: User,
                                          project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"])
    uploaded = owner.client.post(f"/api/v1/tasks/{task['id']}/attachments",
                                 files={"file": ("notes.txt", b"0123456789", "text/plain")})
    assert uploaded.status_code == 201, uploaded.text
    url = f"/api/v1/attachments/{uploaded.json()[0]['id']}"
    assert owner.client.get(url, headers={"range": "bytes=2-4"}).content == b"234"
    for wanted in (b"bytes=" + SUPERSCRIPT_TWO + b"-", b"bytes=-" + SUPERSCRIPT_TWO,
                   b"bytes=2-\xb3", b"bytes=+2-4", b"bytes=2_0-"):
        response = owner.client.get(url, headers={"range": wanted})
        assert response.status_code == 200, (wanted, response.text)
        assert response.content == b"0123456789" and "content-range" not in response.headers


def test_a_last_event_id_in_odd_digits_is_422(server: Server, owner: User,
                                              project: dict[str, Any]) -> None:
    for path in (f"/api/v1/projects/{project['id']}/events", "/api/v1/me/events"):
        for value in (SUPERSCRIPT_TWO, b"+1", b"9" * 19):
            response = owner.client.get(path, headers={"last-event-id": value})
            body = is_problem(response, 422)
            assert body["errors"] == [{"field": "Last-Event-ID", "message": body["detail"]}]


# --- importers ------------------------------------------------------------------------------


def todoist_csv(indent: str) -> bytes:
    return ("TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE\n"
            "task,Parent,,4,1,,,\n"
            f"task,Child,,4,{indent},,,\n").encode()


@pytest.mark.parametrize("indent", ["²", "٢", "①", "+2", "2_0", "99999999999999999999"])
def test_a_todoist_indent_in_odd_digits_is_422(server: Server, owner: User,
                                               indent: str) -> None:
    before = row_counts(server)
    response = owner.client.post("/api/v1/imports/todoist", content=todoist_csv(indent))
    body = is_problem(response, 422)
    assert "INDENT" in body["detail"] and "line 3" in body["detail"]
    assert row_counts(server) == before


def test_a_todoist_indent_in_ascii_digits_still_nests(server: Server, owner: User) -> None:
    response = owner.client.post("/api/v1/imports/todoist", content=todoist_csv("2"))
    assert response.status_code == 201, response.text
    tasks = server.sql("SELECT title, parent_task_id FROM tasks WHERE project_id = ? "
                       "ORDER BY id", (response.json()["project_id"],))
    assert [row[0] for row in tasks] == ["Parent", "Child"]
    assert tasks[0][1] is None and tasks[1][1] is not None


def test_trello_ids_in_odd_digits_give_no_made_up_dates(server: Server, owner: User) -> None:
    # A Trello id starts with its creation time in hex; `int("٣٣٣٣٣٣٣٣", 16)` is a 1997 date.
    odd = "٣٣٣٣٣٣٣٣" + "0" * 16
    board = {"name": "Odd ids", "id": odd, "labels": [], "members": [], "actions": [],
             "checklists": [], "lists": [{"id": "+1_2_3_4" + "0" * 16, "name": "To do",
                                          "pos": 1}],
             "cards": [{"id": odd, "name": "Card", "idList": "+1_2_3_4" + "0" * 16,
                        "pos": 1}]}
    response = owner.client.post("/api/v1/imports/trello", content=json.dumps(board))
    assert response.status_code == 201, response.text
    pid = response.json()["project_id"]
    (task,) = server.sql("SELECT created_at FROM tasks WHERE project_id = ?", (pid,))
    (column,) = server.sql("SELECT created_at FROM columns WHERE project_id = ?", (pid,))
    (project,) = server.sql("SELECT created_at FROM projects WHERE id = ?", (pid,))
    for created in (task[0], column[0], project[0]):
        assert not str(created).startswith(("1997", "1970")), created


def test_a_saved_view_naming_a_label_in_odd_digits_imports(server: Server,
                                                           owner: User) -> None:
    project = owner.client.post("/api/v1/projects", json={"name": "Views"}).json()
    view = owner.client.post(f"/api/v1/projects/{project['id']}/views",
                             json={"name": "Mine", "query": "sort=title"})
    assert view.status_code == 201, view.text
    exported = owner.client.get(f"/api/v1/projects/{project['id']}/export").content
    data = json.loads(exported)
    data["views"][0]["query"] = "label=%C2%B2&column=%D9%A3&sort=title"  # label=² column=٣
    response = owner.client.post("/api/v1/imports/tasklette", content=json.dumps(data))
    assert response.status_code == 201, response.text
    (row,) = server.sql("SELECT query FROM saved_views WHERE project_id = ?",
                        (response.json()["project_id"],))
    assert row[0] == "sort=title"

