"""Bad input to the API: every refusal is a clear problem+json, and nothing is half-written.

Each failing write is followed by a look at the database file: no row and no event may
have been added or changed. No input, however odd, may produce a 500.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tasklette.api.routes import ENDPOINTS, Endpoint
from tasklette.services import tokens, users
from tasklette.services.permissions import Actor
from tests import contract

LIMIT = 1_048_576  # the default max_json_body_bytes
HUGE = "99999999999999999999999"
MAX_ID = 2**63 - 1
P = "/api/v1/projects/{project_id:id}"
T = "/api/v1/tasks/{task_id:id}"


# --- people and data --------------------------------------------------------------------


@dataclass
class Person:
    id: int
    username: str
    token: str
    client: httpx.Client


def new_person(server: Any, prefix: str) -> Person:
    username = f"{prefix}-{uuid.uuid4().hex[:10]}"
    row = server.call(users.create(server.db, username, "correct horse battery"))
    actor = Actor(row["id"], row["username"], row["display_name"])
    _, secret = server.call(tokens.create(server.db, actor, "tests"))
    client = contract.client(base_url=server.base_url, timeout=60,
                             headers={"Authorization": f"Bearer {secret}"})
    return Person(row["id"], row["username"], secret, client)


@dataclass
class Cast:
    owner: Person
    target: Person  # a viewer of every world
    newcomer: Person  # a member of no world


@pytest.fixture(scope="module")
def cast(server: Any) -> Iterator[Cast]:
    cast = Cast(new_person(server, "bad-owner"), new_person(server, "bad-target"),
                new_person(server, "bad-new"))
    yield cast
    for person in (cast.owner, cast.target, cast.newcomer):
        person.client.close()


@dataclass
class World:
    project_id: int
    column_id: int
    other_column_id: int
    empty_column_id: int
    task_id: int
    subtask_id: int
    label_id: int
    free_label_id: int
    comment_id: int
    target: str
    newcomer: str
    view_id: int = 0


def settle(response: httpx.Response) -> None:
    """After a 500, give the server thread time to log its traceback before pytest renders
    ours: on CPython 3.11 before 3.11.8 two threads running ast.parse at once (traceback
    carets use it) can crash pytest with "AST constructor recursion depth mismatch"
    (python/cpython#106905), which would hide every other result."""
    if response.status_code >= 500:
        time.sleep(0.5)


def ok(response: httpx.Response, status: int) -> Any:
    settle(response)
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}: "
        f"{response.text}")
    return response.json() if response.content else None


def build_world(cast: Cast) -> World:
    owner = cast.owner.client
    pid = ok(owner.post("/api/v1/projects", json={"name": "Bad input"}), 201)["id"]
    ok(owner.post(f"/api/v1/projects/{pid}/members",
                  json={"username": cast.target.username, "role": "viewer"}), 201)
    columns = ok(owner.get(f"/api/v1/projects/{pid}/columns"), 200)
    label = ok(owner.post(f"/api/v1/projects/{pid}/labels",
                          json={"name": "bug", "color": "#e5484d"}), 201)
    free = ok(owner.post(f"/api/v1/projects/{pid}/labels",
                         json={"name": "idea", "color": "#00aa00"}), 201)
    task = ok(owner.post(f"/api/v1/projects/{pid}/tasks", json={
        "title": "Parent", "label_ids": [label["id"]], "start_date": "2026-05-01",
        "due_date": "2026-05-10"}), 201)
    subtask = ok(owner.post(f"/api/v1/projects/{pid}/tasks",
                            json={"title": "Child", "parent_task_id": task["id"]}), 201)
    comment = ok(owner.post(f"/api/v1/tasks/{task['id']}/comments",
                            json={"body": "a note"}), 201)
    view = ok(owner.post(f"/api/v1/projects/{pid}/views",
                         json={"name": "Bugs", "query": f"label={label['id']}"}), 201)
    return World(pid, columns[0]["id"], columns[1]["id"], columns[2]["id"], task["id"],
                 subtask["id"], label["id"], free["id"], comment["id"],
                 cast.target.username, cast.newcomer.username, view["id"])


@pytest.fixture(scope="module")
def world(cast: Cast) -> World:
    """Shared: only failing requests (and explicitly restored changes) are sent to it."""
    return build_world(cast)


@pytest.fixture
def fresh_world(cast: Cast) -> World:
    return build_world(cast)


def task_version(cast: Cast, task_id: int) -> int:
    return int(ok(cast.owner.client.get(f"/api/v1/tasks/{task_id}"), 200)["version"])


# --- checking responses and the database -------------------------------------------------

TOTALS = ("projects", "project_members", "columns", "tasks", "labels", "task_labels",
          "task_assignees", "comments", "events", "api_tokens", "users")


def snapshot(server: Any, project_id: int) -> dict[str, list[tuple[Any, ...]]]:
    def rows(sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in server.sql(sql, params)]

    in_project = "JOIN tasks t ON t.id = x.task_id WHERE t.project_id = ?"
    return {
        "project": rows("SELECT * FROM projects WHERE id = ?", project_id),
        "members": rows("SELECT * FROM project_members WHERE project_id = ? "
                        "ORDER BY user_id", project_id),
        "columns": rows("SELECT * FROM columns WHERE project_id = ? ORDER BY id", project_id),
        "tasks": rows("SELECT * FROM tasks WHERE project_id = ? ORDER BY id", project_id),
        "labels": rows("SELECT * FROM labels WHERE project_id = ? ORDER BY id", project_id),
        "task_labels": rows(f"SELECT x.* FROM task_labels x {in_project} ORDER BY 1, 2",
                            project_id),
        "assignees": rows(f"SELECT x.* FROM task_assignees x {in_project} ORDER BY 1, 2",
                          project_id),
        "comments": rows(f"SELECT x.* FROM comments x {in_project} ORDER BY x.id",
                         project_id),
        "tokens": rows("SELECT id, revoked_at FROM api_tokens ORDER BY id"),
        "totals": rows("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})"
                                              for table in TOTALS)
                       + ", (SELECT MAX(id) FROM events)"),
    }


class Unchanged:
    """`with Unchanged(server, pid):` — the block's requests must leave no trace."""

    def __init__(self, server: Any, project_id: int, what: str = "") -> None:
        self.server, self.project_id, self.what = server, project_id, what

    def __enter__(self) -> Unchanged:
        self.before = snapshot(self.server, self.project_id)
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            return
        after = snapshot(self.server, self.project_id)
        changed = [key for key in self.before if self.before[key] != after[key]]
        assert not changed, f"a refused request changed the database {self.what}: {changed}"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    settle(response)
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: expected {status}, got "
        f"{response.status_code}: {response.text[:500]}")
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status, problem
    assert isinstance(problem.get("detail"), str) and problem["detail"].strip(), problem
    assert isinstance(problem.get("title"), str) and problem["title"].strip(), problem
    return problem


def error_fields(problem: dict[str, Any]) -> set[str]:
    errors = problem.get("errors")
    assert isinstance(errors, list) and errors, f"no errors[] in {problem}"
    for error in errors:
        assert isinstance(error.get("message"), str) and error["message"].strip(), error
    return {str(error.get("field")) for error in errors}


def assert_invalid(response: httpx.Response, field: str) -> dict[str, Any]:
    """422 whose errors name `field` (or a part of it, like `label_ids.0`)."""
    problem = assert_problem(response, 422)
    fields = error_fields(problem)
    assert any(f == field or f.startswith(field + ".") for f in fields), (
        f"expected an error about {field!r}, got {problem}")
    return problem


# --- every endpoint that takes a body ----------------------------------------------------

PLACEHOLDER = re.compile(r"\{(\w+)(?::\w+)?\}")
IDS = {"project_id": "project_id", "task_id": "task_id", "column_id": "column_id",
       "label_id": "label_id", "comment_id": "comment_id", "username": "target",
       "view_id": "view_id"}


def url(path: str, world: World, **values: Any) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        return str(getattr(world, IDS[name]))

    return PLACEHOLDER.sub(fill, path)


BODY_ENDPOINTS: tuple[Endpoint, ...] = tuple(e for e in ENDPOINTS if e.body is not None)

# A body each endpoint accepts (from the owner, on a fresh world).
VALID: dict[tuple[str, str], Callable[[World, Cast], dict[str, Any]]] = {
    ("POST", "/api/v1/tokens"): lambda w, c: {"name": "ci"},
    ("POST", "/api/v1/projects"): lambda w, c: {"name": "Another", "description": "*hi*"},
    ("PATCH", P): lambda w, c: {"name": "Renamed", "archived": False},
    ("POST", P + "/members"): lambda w, c: {"username": w.newcomer, "role": "viewer"},
    ("PATCH", P + "/members/{username}"): lambda w, c: {"role": "editor"},
    ("POST", P + "/columns"): lambda w, c: {"name": "Review", "position": 0},
    ("PATCH", "/api/v1/columns/{column_id:id}"): lambda w, c: {"name": "Backlog"},
    ("POST", P + "/tasks"): lambda w, c: {"title": "New", "priority": "high",
                                          "due_date": "2026-12-31"},
    ("PATCH", T): lambda w, c: {"version": task_version(c, w.task_id), "title": "Changed"},
    ("POST", T + "/move"): lambda w, c: {"column_id": w.other_column_id, "position": 0},
    ("POST", P + "/labels"): lambda w, c: {"name": "later", "color": "#ABC"},
    ("PATCH", "/api/v1/labels/{label_id:id}"): lambda w, c: {"color": "#123456"},
    ("POST", T + "/comments"): lambda w, c: {"body": "another note"},
    ("PATCH", "/api/v1/comments/{comment_id:id}"): lambda w, c: {"body": "edited"},
    ("POST", P + "/views"): lambda w, c: {"name": "Open", "query": "completed=false"},
    ("PATCH", "/api/v1/views/{view_id:id}"): lambda w, c: {"name": "Open bugs"},
    ("POST", "/api/v1/me/notifications/read"): lambda w, c: {"all": True},
}


def body_params() -> list[Any]:
    return [pytest.param(e, id=f"{e.method} {e.path}") for e in BODY_ENDPOINTS]


def test_every_body_endpoint_has_a_valid_body() -> None:
    assert {(e.method, e.path) for e in BODY_ENDPOINTS} == set(VALID)


@pytest.mark.parametrize("endpoint", body_params())
def test_a_valid_body_is_accepted(server: Any, cast: Cast, fresh_world: World,
                                  endpoint: Endpoint) -> None:
    """The control: the bodies the other tests break are good ones."""
    body = VALID[(endpoint.method, endpoint.path)](fresh_world, cast)
    response = cast.owner.client.request(endpoint.method, url(endpoint.path, fresh_world),
                                         json=body)
    ok(response, endpoint.status)


MALFORMED = [b'{"name": ', b"{'name': 'x'}", b"not json", b'{"name": "x",}',
             b'{"name": "x"} trailing', b"\xff\xfe\x00", b'{"name": "\\ud800"}']


@pytest.mark.parametrize("payload", MALFORMED, ids=range(len(MALFORMED)))
@pytest.mark.parametrize("endpoint", body_params())
def test_malformed_json_is_400(server: Any, cast: Cast, world: World, endpoint: Endpoint,
                               payload: bytes) -> None:
    with Unchanged(server, world.project_id):
        response = cast.owner.client.request(
            endpoint.method, url(endpoint.path, world), content=payload,
            headers={"content-type": "application/json"})
        assert_problem(response, 400)


NOT_OBJECTS = [b"[]", b'"x"', b"5", b"null", b"true", b'[{"name": "x"}]']


@pytest.mark.parametrize("payload", NOT_OBJECTS, ids=[p.decode() for p in NOT_OBJECTS])
@pytest.mark.parametrize("endpoint", body_params())
def test_json_that_is_not_an_object_is_422(server: Any, cast: Cast, world: World,
                                           endpoint: Endpoint, payload: bytes) -> None:
    with Unchanged(server, world.project_id):
        response = cast.owner.client.request(
            endpoint.method, url(endpoint.path, world), content=payload,
            headers={"content-type": "application/json"})
        assert_problem(response, 422)


CONTENT_TYPES: dict[str, dict[str, Any]] = {
    "text/plain": {"content": b'{"name": "x"}', "headers": {"content-type": "text/plain"}},
    "form": {"data": {"name": "x", "title": "x", "body": "x", "role": "viewer"}},
    "multipart": {"files": {"name": ("x.json", b'{"name": "x"}', "application/json")}},
    "none": {"content": b'{"name": "x"}'},
    "xml": {"content": b"<name>x</name>", "headers": {"content-type": "application/xml"}},
}


@pytest.mark.parametrize("kind", list(CONTENT_TYPES))
@pytest.mark.parametrize("endpoint", body_params())
def test_a_body_that_is_not_json_is_415(server: Any, cast: Cast, world: World,
                                        endpoint: Endpoint, kind: str) -> None:
    with Unchanged(server, world.project_id):
        response = cast.owner.client.request(endpoint.method, url(endpoint.path, world),
                                             **CONTENT_TYPES[kind])
        if kind == "none":
            assert "content-type" not in response.request.headers
        assert_problem(response, 415)


def padded(body: bytes, size: int) -> bytes:
    """`body` followed by spaces (still valid JSON), `size` bytes in all."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("endpoint", body_params())
def test_a_body_over_the_limit_is_413(server: Any, cast: Cast, world: World,
                                      endpoint: Endpoint, framing: str) -> None:
    assert server.settings.max_json_body_bytes == LIMIT
    data = padded(b'{"name": "x"}', LIMIT + 1)
    content: bytes | Iterator[bytes] = data if framing == "content-length" else chunks(data)
    with Unchanged(server, world.project_id):
        response = cast.owner.client.request(endpoint.method, url(endpoint.path, world),
                                             content=content,
                                             headers={"content-type": "application/json"})
        if framing == "chunked":
            assert "content-length" not in response.request.headers
            assert response.request.headers["transfer-encoding"] == "chunked"
        assert_problem(response, 413)
    ok(cast.owner.client.get(f"/api/v1/projects/{world.project_id}"), 200)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_of_exactly_the_limit_is_read(server: Any, cast: Cast, world: World,
                                             framing: str) -> None:
    data = padded(b'{"title": "exactly at the limit"}', LIMIT)
    content: bytes | Iterator[bytes] = data if framing == "content-length" else chunks(data)
    response = cast.owner.client.post(f"/api/v1/projects/{world.project_id}/tasks",
                                      content=content,
                                      headers={"content-type": "application/json"})
    task = ok(response, 201)
    assert task["title"] == "exactly at the limit"
    ok(cast.owner.client.delete(f"/api/v1/tasks/{task['id']}"), 204)


@pytest.mark.parametrize("endpoint", body_params())
def test_an_unknown_field_is_422_naming_it(server: Any, cast: Cast, world: World,
                                           endpoint: Endpoint) -> None:
    body = {**VALID[(endpoint.method, endpoint.path)](world, cast), "colour_scheme": "dark"}
    with Unchanged(server, world.project_id):
        response = cast.owner.client.request(endpoint.method, url(endpoint.path, world),
                                             json=body)
        problem = assert_invalid(response, "colour_scheme")
        assert error_fields(problem) == {"colour_scheme"}, problem


# --- field by field ---------------------------------------------------------------------

WRONG_TYPES: list[tuple[str, Any]] = [
    ("title", 5), ("title", None), ("title", ["x"]), ("completed", "yes"), ("completed", 1),
    ("label_ids", "1"), ("label_ids", ["1"]), ("label_ids", [True]), ("priority", "super"),
    ("priority", 3), ("description", 5), ("column_id", "1"), ("column_id", 1.5),
    ("start_date", 20260101), ("due_date", True), ("assignees", "someone"),
]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES,
                         ids=[f"{f}={v!r}" for f, v in WRONG_TYPES])
def test_wrong_types_in_a_new_task_are_422(server: Any, cast: Cast, world: World, field: str,
                                           value: Any) -> None:
    body = {"title": "ok", field: value}
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.post(f"/api/v1/projects/{world.project_id}/tasks",
                                              json=body), field)


@pytest.mark.parametrize(("field", "value"), [*WRONG_TYPES, ("version", "1"), ("version", 0)],
                         ids=[*(f"{f}={v!r}" for f, v in WRONG_TYPES), "version='1'",
                              "version=0"])
def test_wrong_types_in_a_task_change_are_422(server: Any, cast: Cast, world: World,
                                              field: str, value: Any) -> None:
    body = {"version": task_version(cast, world.task_id), field: value}
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.patch(f"/api/v1/tasks/{world.task_id}", json=body),
                       field)


OTHER_WRONG: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/v1/projects", {"name": 5}, "name"),
    ("POST", "/api/v1/projects", {"name": "   "}, "name"),
    ("POST", "/api/v1/projects", {"name": "x" * 101}, "name"),
    ("POST", "/api/v1/projects", {}, "name"),
    ("PATCH", P, {"archived": "true"}, "archived"),
    ("PATCH", P, {"name": ""}, "name"),
    ("POST", P + "/members", {"username": "{newcomer}", "role": "admin"}, "role"),
    ("POST", P + "/members", {"role": "viewer"}, "username"),
    ("PATCH", P + "/members/{username}", {"role": "boss"}, "role"),
    ("PATCH", P + "/members/{username}", {}, "role"),
    ("POST", P + "/columns", {"name": "x", "position": -1}, "position"),
    ("POST", P + "/columns", {"name": "x", "position": 1_000_001}, "position"),
    ("POST", P + "/columns", {"name": "x", "position": "1"}, "position"),
    ("PATCH", "/api/v1/columns/{column_id:id}", {"name": " "}, "name"),
    ("POST", T + "/move", {"position": -1}, "position"),
    ("POST", T + "/move", {"column_id": "{column_id}x"}, "column_id"),
    ("POST", P + "/labels", {"name": "x"}, "color"),
    ("POST", P + "/labels", {"name": "x", "color": 5}, "color"),
    ("POST", T + "/comments", {"body": ""}, "body"),
    ("POST", T + "/comments", {"body": " \n\t "}, "body"),
    ("POST", T + "/comments", {"body": 5}, "body"),
    ("PATCH", "/api/v1/comments/{comment_id:id}", {"body": "   "}, "body"),
    ("POST", "/api/v1/tokens", {"name": ""}, "name"),
    ("POST", "/api/v1/tokens", {"name": ["x"]}, "name"),
    ("POST", P + "/tasks", {"title": "x", "assignees": ["Not A Username!"]}, "assignees"),
    ("POST", P + "/tasks", {"title": "x", "assignees": ["nobody-by-this-name"]},
     "assignees"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), OTHER_WRONG,
                         ids=[f"{m} {p} {b}" for m, p, b, _ in OTHER_WRONG])
def test_wrong_values_elsewhere_are_422(server: Any, cast: Cast, world: World, method: str,
                                        path: str, body: dict[str, Any], field: str) -> None:
    body = {key: value.format(newcomer=world.newcomer, column_id=world.column_id)
            if isinstance(value, str) else value for key, value in body.items()}
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.request(method, url(path, world), json=body), field)


# A field a PATCH may leave out, but not set to null (null would mean "clear", and these
# cannot be cleared). Tasks and projects refuse such nulls; every update should.
NULLS: list[tuple[str, str]] = [
    (P, "name"), (P, "description"), (P, "archived"),
    ("/api/v1/columns/{column_id:id}", "name"), ("/api/v1/columns/{column_id:id}", "position"),
    ("/api/v1/labels/{label_id:id}", "name"), ("/api/v1/labels/{label_id:id}", "color"),
    (T, "title"), (T, "description"), (T, "priority"), (T, "completed"), (T, "label_ids"),
    (T, "assignees"), (T, "column_id"),
    ("/api/v1/comments/{comment_id:id}", "body"), (P + "/members/{username}", "role"),
]


@pytest.mark.parametrize(("path", "field"), NULLS, ids=[f"{p} {f}" for p, f in NULLS])
def test_null_for_a_field_that_cannot_be_cleared_is_422(server: Any, cast: Cast,
                                                        world: World, path: str,
                                                        field: str) -> None:
    body: dict[str, Any] = {field: None}
    if path == T:
        body["version"] = task_version(cast, world.task_id)
    with Unchanged(server, world.project_id, f"(PATCH {path} {body})"):
        assert_invalid(cast.owner.client.patch(url(path, world), json=body), field)


@pytest.mark.parametrize("title", ["", " ", "   \t\n ", "x" * 501, " " + "y" * 501])
def test_a_bad_title_is_422(server: Any, cast: Cast, world: World, title: str) -> None:
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.post(f"/api/v1/projects/{world.project_id}/tasks",
                                              json={"title": title}), "title")
        assert_invalid(cast.owner.client.patch(
            f"/api/v1/tasks/{world.task_id}",
            json={"version": task_version(cast, world.task_id), "title": title}), "title")


def test_a_title_of_500_characters_is_fine(server: Any, cast: Cast, world: World) -> None:
    title = "é" * 499 + "x"
    task = ok(cast.owner.client.post(f"/api/v1/projects/{world.project_id}/tasks",
                                     json={"title": title}), 201)
    assert task["title"] == title
    stored = server.sql("SELECT title FROM tasks WHERE id = ?", (task["id"],))[0]["title"]
    assert stored == title
    changed = ok(cast.owner.client.patch(f"/api/v1/tasks/{task['id']}",
                                         json={"version": task["version"],
                                               "title": "z" * 500}), 200)
    assert changed["title"] == "z" * 500
    ok(cast.owner.client.delete(f"/api/v1/tasks/{task['id']}"), 204)


BAD_COLOURS = ["red", "#12345", "#gggggg", "url(x)", "", "#1234567", "#ff000", "ff0000",
               "#fff ", " #fff", "#ff0000;x", "rgb(1,2,3)", "#\uff46\uff46\uff46"]


@pytest.mark.parametrize("color", BAD_COLOURS)
def test_an_invalid_colour_is_422(server: Any, cast: Cast, world: World, color: str) -> None:
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.post(f"/api/v1/projects/{world.project_id}/labels",
                                              json={"name": "c", "color": color}), "color")
        assert_invalid(cast.owner.client.patch(f"/api/v1/labels/{world.label_id}",
                                               json={"color": color}), "color")


BAD_DATES = ["2026-13-01", "tomorrow", "2026-02-30", "2026-00-10", "", "31/12/2026",
             "2026-12-31T25:00:00"]


@pytest.mark.parametrize("field", ["start_date", "due_date"])
@pytest.mark.parametrize("value", BAD_DATES)
def test_an_invalid_date_is_422(server: Any, cast: Cast, world: World, field: str,
                                value: str) -> None:
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.post(f"/api/v1/projects/{world.project_id}/tasks",
                                              json={"title": "d", field: value}), field)
        assert_invalid(cast.owner.client.patch(
            f"/api/v1/tasks/{world.task_id}",
            json={"version": task_version(cast, world.task_id), field: value}), field)


def test_a_start_after_the_due_date_is_422(server: Any, cast: Cast, world: World) -> None:
    tasks_url = f"/api/v1/projects/{world.project_id}/tasks"
    task_url = f"/api/v1/tasks/{world.task_id}"  # start 2026-05-01, due 2026-05-10
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.post(tasks_url, json={
            "title": "d", "start_date": "2026-05-02", "due_date": "2026-05-01"}),
            "start_date")
        version = task_version(cast, world.task_id)
        # Each half alone, against the date already stored.
        for body in ({"start_date": "2026-05-11"}, {"due_date": "2026-04-30"},
                     {"start_date": "2026-06-01", "due_date": "2026-05-31"}):
            response = cast.owner.client.patch(task_url, json={"version": version, **body})
            problem = assert_problem(response, 422)
            assert error_fields(problem) & {"start_date", "due_date"}, problem
    # The same day for both is fine (and is undone right away).
    same = ok(cast.owner.client.post(tasks_url, json={
        "title": "d", "start_date": "2026-05-01", "due_date": "2026-05-01"}), 201)
    ok(cast.owner.client.delete(f"/api/v1/tasks/{same['id']}"), 204)


# --- ids --------------------------------------------------------------------------------

ID_ENDPOINTS = [e for e in ENDPOINTS if ":id}" in e.path]
BAD_PATH_IDS = [HUGE, str(2**63), "999999999999999999", str(MAX_ID), "0", "-1", "007",
                "1e3", "\uff11\uff12"]


@pytest.mark.parametrize("bad", BAD_PATH_IDS)
@pytest.mark.parametrize("endpoint", [pytest.param(e, id=f"{e.method} {e.path}")
                                      for e in ID_ENDPOINTS])
def test_a_huge_or_odd_id_in_a_path_is_404(server: Any, cast: Cast, world: World,
                                           endpoint: Endpoint, bad: str) -> None:
    names = [m.group(1) for m in PLACEHOLDER.finditer(endpoint.path)
             if m.group(0).endswith(":id}")]
    kwargs: dict[str, Any] = {}
    if endpoint.body is not None:
        kwargs["json"] = VALID[(endpoint.method, endpoint.path)](world, cast) \
            if endpoint.path != T else {"version": 1, "title": "x"}
    if endpoint.query is not None:  # a valid query: only the id in the path is wrong
        kwargs["params"] = {name: "launch" for name, field in endpoint.query.model_fields.items()
                            if field.is_required()}
    with Unchanged(server, world.project_id):
        response = cast.owner.client.request(
            endpoint.method, url(endpoint.path, world, **dict.fromkeys(names, bad)), **kwargs)
        assert_problem(response, 404)


BAD_BODY_IDS: list[Any] = [int(HUGE), 2**63, MAX_ID, 0, -1]


@pytest.mark.parametrize("value", BAD_BODY_IDS, ids=[str(v) for v in BAD_BODY_IDS])
def test_a_huge_or_unknown_id_in_a_body_is_422(server: Any, cast: Cast, world: World,
                                               value: int) -> None:
    owner = cast.owner.client
    tasks_url = f"/api/v1/projects/{world.project_id}/tasks"
    task_url = f"/api/v1/tasks/{world.task_id}"
    with Unchanged(server, world.project_id):
        assert_invalid(owner.post(tasks_url, json={"title": "x", "column_id": value}),
                       "column_id")
        assert_invalid(owner.post(tasks_url, json={"title": "x", "parent_task_id": value}),
                       "parent_task_id")
        assert_invalid(owner.post(tasks_url, json={"title": "x", "label_ids": [value]}),
                       "label_ids")
        assert_invalid(owner.post(f"{task_url}/move", json={"column_id": value}),
                       "column_id")
        version = task_version(cast, world.task_id)
        assert_invalid(owner.patch(task_url, json={"version": version, "column_id": value}),
                       "column_id")
        assert_invalid(owner.patch(task_url, json={"version": version, "label_ids": [value]}),
                       "label_ids")
        if value != MAX_ID:  # MAX_ID is a well-formed version: the stale-version case
            assert_invalid(owner.patch(task_url, json={"version": value, "title": "x"}),
                           "version")


# --- query parameters --------------------------------------------------------------------


def cursor_of(values: Any) -> str:
    """A cursor in the list's own encoding (values: raw JSON text, or data to encode)."""
    raw = values.encode() if isinstance(values, str) else orjson.dumps(values)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TASK_QUERIES: list[tuple[dict[str, str] | list[tuple[str, str]], str]] = [
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "x"}, "limit"),
    ({"limit": "-1"}, "limit"), ({"limit": ""}, "limit"), ({"limit": "1.5"}, "limit"),
    ({"limit": HUGE}, "limit"),
    ({"colour": "red"}, "colour"), ({"page": "2"}, "page"),
    ({"sort": "name"}, "sort"), ({"sort": ""}, "sort"), ({"sort": "+title"}, "sort"),
    ({"sort": "--title"}, "sort"),
    ({"cursor": "garbage!"}, "cursor"), ({"cursor": "%%%"}, "cursor"),
    ({"cursor": "é"}, "cursor"), ({"cursor": "x" * 1001}, "cursor"),
    ({"cursor": cursor_of({"a": 1})}, "cursor"), ({"cursor": cursor_of([1, 2, 3, 4])}, "cursor"),
    ({"cursor": cursor_of([True])}, "cursor"), ({"cursor": cursor_of([None])}, "cursor"),
    ({"cursor": cursor_of([1])}, "cursor"),
    ({"sort": "created", "cursor": cursor_of([2**64 - 1])}, "cursor"),
    ({"sort": "-created", "cursor": cursor_of([2**63])}, "cursor"),
    ({"cursor": cursor_of([0, 2**63, 1])}, "cursor"),
    ({"cursor": cursor_of("[-9223372036854775809]")}, "cursor"),
    ({"sort": "title", "cursor": cursor_of([1])}, "cursor"),
    ({"column": HUGE}, "column"), ({"column": "x"}, "column"), ({"column": "0"}, "column"),
    ({"label": HUGE}, "label"), ({"due_before": "2026-13-01"}, "due_before"),
    ({"due_after": "tomorrow"}, "due_after"), ({"parent": "0"}, "parent"),
    ({"parent": HUGE}, "parent"), ({"priority": "super"}, "priority"),
    ({"completed": "maybe"}, "completed"), ({"q": "x" * 201}, "q"),
    ([("limit", "1"), ("limit", "2")], "limit"),
]


@pytest.mark.parametrize(("params", "field"), TASK_QUERIES,
                         ids=[f"{p}"[:60] for p, _ in TASK_QUERIES])
def test_bad_task_list_queries_are_422(cast: Cast, world: World, params: Any,
                                       field: str) -> None:
    # A connection of its own: were the server to fail with a 500 and drop the
    # connection, the next test would not inherit a dead one.
    with httpx.Client(base_url=str(cast.owner.client.base_url), timeout=30,
                      headers={"Authorization": f"Bearer {cast.owner.token}"}) as client:
        response = client.get(f"/api/v1/projects/{world.project_id}/tasks", params=params)
    assert_invalid(response, field)


def test_a_handed_out_cursor_works(cast: Cast, world: World) -> None:
    """The control for the cursor cases: real cursors page through every task."""
    tasks_url = f"/api/v1/projects/{world.project_id}/tasks"
    for sort in ("position", "-created", "title", "-due", "priority"):
        seen, cursor = [], None
        while True:
            params = {"sort": sort, "limit": "1", "parent": "any"}
            if cursor:
                params["cursor"] = cursor
            page = ok(cast.owner.client.get(tasks_url, params=params), 200)
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted({*seen}) and len(seen) >= 2, sort
    # The largest id there can be is a valid filter, not a crash.
    page = ok(cast.owner.client.get(tasks_url, params={"column": str(MAX_ID)}), 200)
    assert page == {"items": [], "next_cursor": None}


ACTIVITY_QUERIES = [({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"),
                    ({"limit": "x"}, "limit"), ({"before": HUGE}, "before"),
                    ({"before": "0"}, "before"), ({"before": "x"}, "before"),
                    ({"since": "1"}, "since")]


@pytest.mark.parametrize(("params", "field"), ACTIVITY_QUERIES,
                         ids=[f"{p}" for p, _ in ACTIVITY_QUERIES])
def test_bad_activity_queries_are_422(cast: Cast, world: World, params: dict[str, str],
                                      field: str) -> None:
    assert_invalid(cast.owner.client.get(f"/api/v1/projects/{world.project_id}/activity",
                                         params=params), field)


@pytest.mark.parametrize(("params", "field"), [
    ({"move_to": HUGE}, "move_to"), ({"move_to": "x"}, "move_to"),
    ({"move_to": "0"}, "move_to"), ({"move_to": str(MAX_ID)}, "move_to"),
    ({"force": "1"}, "force")], ids=["huge", "text", "zero", "max-id", "unknown"])
def test_bad_column_delete_queries_are_422(server: Any, cast: Cast, world: World,
                                           params: dict[str, str], field: str) -> None:
    with Unchanged(server, world.project_id):
        assert_invalid(cast.owner.client.delete(f"/api/v1/columns/{world.column_id}",
                                                params=params), field)


def test_deleting_a_column_with_tasks_needs_move_to(server: Any, cast: Cast,
                                                    world: World) -> None:
    with Unchanged(server, world.project_id):
        assert_problem(cast.owner.client.delete(f"/api/v1/columns/{world.column_id}"), 409)
        assert_invalid(cast.owner.client.delete(f"/api/v1/columns/{world.column_id}",
                                                params={"move_to": str(world.column_id)}),
                       "move_to")


# --- versions ---------------------------------------------------------------------------


def test_a_stale_version_is_409_with_the_current_task(server: Any, cast: Cast,
                                                      world: World) -> None:
    task_url = f"/api/v1/tasks/{world.task_id}"
    current = ok(cast.owner.client.get(task_url), 200)
    with Unchanged(server, world.project_id):
        for stale in (current["version"] - 1 or MAX_ID, current["version"] + 1, MAX_ID):
            response = cast.owner.client.patch(task_url, json={"version": stale,
                                                               "title": "lost update"})
            problem = assert_problem(response, 409)
            assert problem["current"]["id"] == world.task_id
            assert problem["current"]["version"] == current["version"]
            assert problem["current"]["title"] == current["title"]


def test_a_missing_version_is_428(server: Any, cast: Cast, world: World) -> None:
    with Unchanged(server, world.project_id):
        for body in ({"title": "blind write"}, {"title": "x", "version": None}, {}):
            assert_problem(cast.owner.client.patch(f"/api/v1/tasks/{world.task_id}",
                                                   json=body), 428)


def test_if_match(server: Any, cast: Cast, fresh_world: World) -> None:
    task_url = f"/api/v1/tasks/{fresh_world.task_id}"
    owner = cast.owner.client
    got = owner.get(task_url)
    version = ok(got, 200)["version"]
    assert got.headers["etag"] == f'"{version}"'
    with Unchanged(server, fresh_world.project_id, "(If-Match)"):
        stale = owner.patch(task_url, json={"title": "x"}, headers={"if-match": '"999"'})
        problem = assert_problem(stale, 409)
        assert problem["current"]["version"] == version
        # The header and the body naming different versions: refused, not guessed.
        clash = owner.patch(task_url, json={"title": "x", "version": version},
                            headers={"if-match": f'"{version + 1}"'})
        assert_invalid(clash, "version")
        for garbage in ('"abc"', "*x", '"-1"', '"' + HUGE + '"', '""'):
            assert_problem(owner.patch(task_url, json={"title": "x"},
                                       headers={"if-match": garbage}), 400)
        # A stale If-Match on DELETE keeps the task.
        assert_problem(owner.delete(task_url, headers={"if-match": '"999"'}), 409)
    for template in ('"{}"', 'W/"{}"'):
        header = template.format(version)
        changed = owner.patch(task_url, json={"title": f"via {header}"},
                              headers={"if-match": header})
        assert ok(changed, 200)["version"] == version + 1
        assert changed.headers["etag"] == f'"{version + 1}"'
        version += 1
    ok(owner.delete(task_url, headers={"if-match": f'"{version}"'}), 204)
    assert server.sql("SELECT id FROM tasks WHERE id = ?", (fresh_world.task_id,)) == []


# --- authentication ---------------------------------------------------------------------


def test_invalid_tokens_are_401(server: Any, cast: Cast, world: World) -> None:
    revoked = new_person(server, "bad-revoked")
    revoked_id = ok(revoked.client.get("/api/v1/tokens"), 200)[0]["id"]
    ok(revoked.client.delete(f"/api/v1/tokens/{revoked_id}"), 200)
    revoked.client.close()
    headers = [
        {"authorization": "Bearer nonsense"},
        {"authorization": "Bearer tsk_" + "A" * 43},
        {"authorization": "Bearer " + cast.owner.token + "x"},
        {"authorization": "Bearer " + cast.owner.token[:-1]},
        {"authorization": "Bearer tsk_" + "x" * 5000},
        {"authorization": "Bearer"},
        {"authorization": "Basic " + base64.b64encode(b"user:pass").decode()},
        {"authorization": cast.owner.token},
        {"authorization": "Bearer " + revoked.token},
        {},
    ]
    with httpx.Client(base_url=server.base_url, timeout=30) as client, \
            Unchanged(server, world.project_id):
        for header in headers:
            for method, path, body in (
                    ("GET", f"/api/v1/projects/{world.project_id}", None),
                    ("POST", f"/api/v1/projects/{world.project_id}/tasks", {"title": "x"}),
                    ("DELETE", f"/api/v1/tasks/{world.task_id}", None),
                    ("GET", "/api/v1/me", None)):
                response = client.request(method, path, json=body, headers=header)
                assert_problem(response, 401)
                challenge = response.headers.get("www-authenticate", "")
                assert challenge.lower().startswith("bearer"), (header, response.headers)


def test_the_server_still_answers(server: Any, cast: Cast, world: World) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as fresh:
        assert ok(fresh.get("/healthz"), 200) == {"status": "ok"}
    project = ok(cast.owner.client.get(f"/api/v1/projects/{world.project_id}"), 200)
    assert project["name"] == "Bad input"
    task = ok(cast.owner.client.get(f"/api/v1/tasks/{world.task_id}"), 200)
    assert task["title"] == "Parent" and task["subtask_count"] == 1
    labels = ok(cast.owner.client.get(f"/api/v1/projects/{world.project_id}/labels"), 200)
    assert {label["name"] for label in labels} == {"bug", "idea"}
