"""The API's permission matrix: every project endpoint, called by every kind of caller.

Callers: anonymous (no token: 401), a signed-in non-member (404, indistinguishable from
a nonexistent id), and members with the roles viewer, editor and owner. A refused request
must leave the database exactly as it was, events included.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tasklette.api.routes import ENDPOINTS
from tasklette.services import tokens, users
from tasklette.services.permissions import Actor

MISSING_ID = 999_999_999_999
CALLERS = ("anon", "outsider", "viewer", "editor", "owner")
P = "/api/v1/projects/{project_id:id}"
T = "/api/v1/tasks/{task_id:id}"


# --- people and data --------------------------------------------------------------------


@dataclass
class Person:
    id: int
    username: str
    token_id: int
    client: httpx.Client


def new_person(server: Any, prefix: str) -> Person:
    username = f"{prefix}-{uuid.uuid4().hex[:10]}"
    row = server.call(users.create(server.db, username, "correct horse battery"))
    actor = Actor(row["id"], row["username"], row["display_name"])
    token_row, secret = server.call(tokens.create(server.db, actor, "tests"))
    client = httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"})
    return Person(row["id"], row["username"], token_row["id"], client)


@dataclass
class Cast:
    """The users of this module: one per role, plus spares for member operations."""

    owner: Person
    editor: Person
    viewer: Person
    outsider: Person
    target: Person  # a viewer of every world, whose role gets changed or who gets removed
    newcomer: Person  # never a member of a world: the one owners add
    anon: httpx.Client

    def client(self, caller: str) -> httpx.Client:
        if caller == "anon":
            return self.anon
        person: Person = getattr(self, caller)
        return person.client


@pytest.fixture(scope="module")
def cast(server: Any) -> Iterator[Cast]:
    people = {name: new_person(server, f"perm-{name[:5]}")
              for name in ("owner", "editor", "viewer", "outsider", "target", "newcomer")}
    anon = httpx.Client(base_url=server.base_url, timeout=30)
    yield Cast(**people, anon=anon)
    anon.close()
    for person in people.values():
        person.client.close()


@dataclass
class World:
    """A project with one of everything, and members of every role."""

    project_id: int
    column_id: int  # first column: holds the task
    other_column_id: int  # second column: empty, a target for moves
    empty_column_id: int  # third column: empty, deletable
    task_id: int
    task_version: int
    subtask_id: int
    label_id: int  # attached to the task
    free_label_id: int  # attached to nothing
    comment_id: int  # written by the owner
    target: str
    newcomer: str
    attachment_id: int = 0  # a file on the task, uploaded by the owner
    view_id: int = 0  # a saved view of the project


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


def add_member(owner: Person, project_id: int, person: Person, role: str) -> None:
    ok(owner.client.post(f"/api/v1/projects/{project_id}/members",
                         json={"username": person.username, "role": role}), 201)


def build_world(cast: Cast) -> World:
    owner = cast.owner.client
    project = ok(owner.post("/api/v1/projects", json={"name": "Permission world"}), 201)
    pid = project["id"]
    add_member(cast.owner, pid, cast.editor, "editor")
    add_member(cast.owner, pid, cast.viewer, "viewer")
    add_member(cast.owner, pid, cast.target, "viewer")
    columns = ok(owner.get(f"/api/v1/projects/{pid}/columns"), 200)
    assert len(columns) == 3
    label = ok(owner.post(f"/api/v1/projects/{pid}/labels",
                          json={"name": "bug", "color": "#e5484d"}), 201)
    free_label = ok(owner.post(f"/api/v1/projects/{pid}/labels",
                               json={"name": "idea", "color": "#00aa00"}), 201)
    task = ok(owner.post(f"/api/v1/projects/{pid}/tasks", json={
        "title": "Parent", "label_ids": [label["id"]],
        "assignees": [cast.editor.username]}), 201)
    subtask = ok(owner.post(f"/api/v1/projects/{pid}/tasks", json={
        "title": "Child", "parent_task_id": task["id"]}), 201)
    comment = ok(owner.post(f"/api/v1/tasks/{task['id']}/comments",
                            json={"body": "the owner's note"}), 201)
    attachment = ok(owner.post(f"/api/v1/tasks/{task['id']}/attachments",
                               files={"file": ("notes.txt", b"the owner's file")}), 201)[0]
    task = ok(owner.get(f"/api/v1/tasks/{task['id']}"), 200)
    return World(
        project_id=pid, column_id=columns[0]["id"], other_column_id=columns[1]["id"],
        empty_column_id=columns[2]["id"], task_id=task["id"], task_version=task["version"],
        subtask_id=subtask["id"], label_id=label["id"], free_label_id=free_label["id"],
        comment_id=comment["id"], target=cast.target.username,
        newcomer=cast.newcomer.username, attachment_id=attachment["id"],
        view_id=ok(owner.post(f"/api/v1/projects/{pid}/views",
                              json={"name": "Shared", "query": "sort=title"}), 201)["id"])


@pytest.fixture(scope="module")
def shared_world(cast: Cast) -> World:
    """For requests that change nothing (reads, and refusals of a shared-world write)."""
    return build_world(cast)


@pytest.fixture
def world(cast: Cast) -> World:
    return build_world(cast)


# --- looking at the database ------------------------------------------------------------

TOTALS = ("projects", "project_members", "columns", "tasks", "labels", "task_labels",
          "task_assignees", "comments", "events", "api_tokens", "users")


def snapshot(server: Any, project_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the project (and the size of every table, events included)."""

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
        "attachments": rows(f"SELECT x.* FROM attachments x {in_project} ORDER BY x.id",
                            project_id),
        "tokens": rows("SELECT id, revoked_at FROM api_tokens ORDER BY id"),
        "totals": rows("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})"
                                              for table in TOTALS)
                       + ", (SELECT MAX(id) FROM events)"),
    }


def event_count(snap: dict[str, list[tuple[Any, ...]]]) -> int:
    return int(snap["totals"][0][TOTALS.index("events")])


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    settle(response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert isinstance(problem.get("detail"), str) and problem["detail"].strip()
    assert isinstance(problem.get("title"), str) and problem["title"].strip()
    return problem


def assert_unchanged(server: Any, world_or_pid: World | int,
                     before: dict[str, list[tuple[Any, ...]]], what: str) -> None:
    pid = world_or_pid.project_id if isinstance(world_or_pid, World) else world_or_pid
    after = snapshot(server, pid)
    changed = [key for key in before if before[key] != after[key]]
    assert not changed, f"{what} was refused but changed the database: {changed}"


# --- the table --------------------------------------------------------------------------

Body = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """One endpoint: who may call it, and a request that would succeed for them."""

    method: str
    path: str
    # read: members; edit: editors and owners; manage: owners;
    # owners-comment: the comment's author (the owner), the only one who may edit it and
    # (as author or as owner) delete it; signed-in: anyone with a token.
    level: str
    ok: int = 200
    body: Body | None = None
    query: Callable[[World], dict[str, Any]] | None = None
    ids: dict[str, str] = field(default_factory=dict)  # placeholder -> World attribute
    files: Callable[[World], dict[str, Any]] | None = None  # a multipart/form-data body
    # A write of the caller's own state (watching): no event, the project is unchanged.
    personal: bool = False

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


CASES: tuple[Case, ...] = (
    Case("GET", "/api/v1/projects", "signed-in"),
    Case("POST", "/api/v1/projects", "signed-in", 201, body=lambda w: {"name": "Mine"}),
    Case("GET", P, "read"),
    Case("PATCH", P, "manage", body=lambda w: {"name": "Renamed", "archived": True}),
    Case("DELETE", P, "manage", 204),

    Case("GET", P + "/members", "read"),
    Case("POST", P + "/members", "manage", 201,
         body=lambda w: {"username": w.newcomer, "role": "viewer"}),
    Case("PATCH", P + "/members/{username}", "manage", body=lambda w: {"role": "editor"}),
    Case("DELETE", P + "/members/{username}", "manage", 204),

    Case("GET", P + "/columns", "read"),
    Case("POST", P + "/columns", "edit", 201, body=lambda w: {"name": "Review"}),
    Case("PATCH", "/api/v1/columns/{column_id:id}", "edit",
         body=lambda w: {"name": "Backlog", "position": 1}),
    Case("DELETE", "/api/v1/columns/{column_id:id}", "edit", 204,
         ids={"column_id": "empty_column_id"}),

    Case("GET", P + "/tasks", "read", query=lambda w: {"parent": "any", "sort": "-created"}),
    Case("POST", P + "/tasks", "edit", 201,
         body=lambda w: {"title": "Another", "label_ids": [w.free_label_id]}),
    Case("GET", T, "read"),
    Case("PATCH", T, "edit",
         body=lambda w: {"version": w.task_version, "title": "Changed", "completed": True}),
    Case("DELETE", T, "edit", 204),
    Case("POST", T + "/move", "edit",
         body=lambda w: {"column_id": w.other_column_id, "position": 0}),
    Case("PUT", T + "/labels/{label_id:id}", "edit", ids={"label_id": "free_label_id"}),
    Case("DELETE", T + "/labels/{label_id:id}", "edit"),
    Case("GET", T + "/activity", "read"),
    # Watching: any member, viewers too (tests/api/test_watching.py).
    Case("GET", T + "/watch", "read"),
    Case("PUT", T + "/watch", "read", personal=True),
    Case("DELETE", T + "/watch", "read", personal=True),
    Case("GET", P + "/watch", "read"),
    Case("PUT", P + "/watch", "read", personal=True),
    Case("DELETE", P + "/watch", "read", personal=True),

    Case("GET", P + "/labels", "read"),
    Case("POST", P + "/labels", "edit", 201,
         body=lambda w: {"name": "urgent", "color": "#ff0000"}),
    Case("GET", "/api/v1/labels/{label_id:id}", "read"),
    Case("PATCH", "/api/v1/labels/{label_id:id}", "edit",
         body=lambda w: {"name": "defect", "color": "#123"}),
    Case("DELETE", "/api/v1/labels/{label_id:id}", "edit", 204),

    Case("GET", T + "/comments", "read"),
    Case("POST", T + "/comments", "edit", 201, body=lambda w: {"body": "me too"}),
    Case("PATCH", "/api/v1/comments/{comment_id:id}", "owners-comment",
         body=lambda w: {"body": "edited"}),
    Case("DELETE", "/api/v1/comments/{comment_id:id}", "owners-comment", 204),

    Case("GET", P + "/activity", "read", query=lambda w: {"limit": "5"}),

    Case("GET", T + "/attachments", "read"),
    Case("POST", T + "/attachments", "edit", 201,
         files=lambda w: {"file": ("more.txt", b"another file")}),
    Case("GET", "/api/v1/attachments/{attachment_id:id}", "read"),
    Case("DELETE", "/api/v1/attachments/{attachment_id:id}", "edit", 204),

    # search and saved views (my own imports and calendar feed: tests/api/test_calendar.py,
    # tests/test_import_*.py)
    Case("GET", "/api/v1/search", "signed-in", query=lambda w: {"q": "parent"}),
    Case("GET", P + "/search", "read", query=lambda w: {"q": "parent"}),
    Case("GET", P + "/views", "read"),
    Case("POST", P + "/views", "edit", 201, body=lambda w: {"name": "Mine", "query": "sort=due"}),
    Case("GET", "/api/v1/views/{view_id:id}", "read"),
    Case("PATCH", "/api/v1/views/{view_id:id}", "edit", body=lambda w: {"name": "Renamed"}),
    Case("DELETE", "/api/v1/views/{view_id:id}", "edit", 204),
    Case("GET", P + "/export", "read", query=lambda w: {"format": "csv"}),
)

ALLOWED = {
    "read": {"viewer", "editor", "owner"},
    "edit": {"editor", "owner"},
    "manage": {"owner"},
    "owners-comment": {"owner"},
    "signed-in": {"outsider", "viewer", "editor", "owner"},
}

DEFAULT_IDS = {"project_id": "project_id", "task_id": "task_id", "column_id": "column_id",
               "label_id": "label_id", "comment_id": "comment_id", "username": "target",
               "attachment_id": "attachment_id", "view_id": "view_id"}
PLACEHOLDER = re.compile(r"\{(\w+)(?::\w+)?\}")


def expected_status(case: Case, caller: str) -> int:
    if caller == "anon":
        return 401
    if caller in ALLOWED[case.level]:
        return case.ok
    return 404 if caller == "outsider" else 403


def url_for(case: Case, world: World, *, missing: bool = False) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if missing and name != "username":
            return str(MISSING_ID)
        return str(getattr(world, case.ids.get(name, DEFAULT_IDS[name])))

    return PLACEHOLDER.sub(fill, case.path)


def send(client: httpx.Client, case: Case, world: World, *,
         missing: bool = False) -> httpx.Response:
    kwargs: dict[str, Any] = {}
    if case.body is not None:
        kwargs["json"] = case.body(world)
    if case.query is not None:
        kwargs["params"] = case.query(world)
    if case.files is not None:
        kwargs["files"] = case.files(world)
    return client.request(case.method, url_for(case, world, missing=missing), **kwargs)


def test_the_table_has_a_row_for_every_project_endpoint() -> None:
    per_user = {("GET", "/api/v1/me")} | {
        (e.method, e.path) for e in ENDPOINTS if e.path.startswith("/api/v1/tokens")} | {
        (e.method, e.path) for e in ENDPOINTS
        if e.path.startswith(("/api/v1/me/calendar", "/api/v1/imports/",
                              "/api/v1/me/notifications"))}
    in_table = [(case.method, case.path) for case in CASES]
    assert len(in_table) == len(set(in_table)), "a row appears twice"
    # Event streams never end on their own: tests/api/test_events.py covers who may open
    # them (members; others 404 exactly as for a missing project; 401 without a token).
    streams = {(e.method, e.path) for e in ENDPOINTS if e.stream}
    in_app = {(e.method, e.path) for e in ENDPOINTS} - per_user - streams
    assert set(in_table) == in_app, (
        f"endpoints without a row: {sorted(in_app - set(in_table))}; "
        f"rows without an endpoint: {sorted(set(in_table) - in_app)}")


def test_every_body_and_query_model_gets_a_request() -> None:
    by_key = {(e.method, e.path): e for e in ENDPOINTS}
    for case in CASES:
        endpoint = by_key[(case.method, case.path)]
        assert (endpoint.body is not None) == (case.body is not None), case
        assert endpoint.status == case.ok, case


@pytest.mark.parametrize(("case", "caller"), [
    pytest.param(case, caller, id=f"{case}-{caller}") for case in CASES for caller in CALLERS])
def test_permission_matrix(server: Any, cast: Cast, shared_world: World, case: Case,
                           caller: str) -> None:
    want = expected_status(case, caller)
    fresh = case.writes and case.level != "signed-in"
    world = build_world(cast) if fresh else shared_world
    client = cast.client(caller)
    before = snapshot(server, world.project_id)

    response = send(client, case, world)
    settle(response)

    assert response.status_code == want, (
        f"{case} as {caller}: expected {want}, got {response.status_code}: {response.text}")
    if want >= 400:
        problem = assert_problem(response, want)
        assert_unchanged(server, world, before, f"{case} as {caller}")
        if caller == "anon":
            assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
        if caller in ("anon", "outsider"):
            # The refusal must not tell an existing object from a nonexistent one.
            missing = send(client, case, world, missing=True)
            assert missing.status_code == want, missing.text
            assert missing.json() == problem
            assert missing.headers["content-type"] == response.headers["content-type"]
            assert_unchanged(server, world, before, f"{case} as {caller} (missing ids)")
    elif case.writes and not case.personal:
        after = snapshot(server, world.project_id)
        assert event_count(after) > event_count(before), f"{case} recorded no event"
    else:
        assert_unchanged(server, world, before, f"reading {case}")


# --- the rows' effects, for the callers who may ------------------------------------------


def test_project_list_shows_only_my_projects(cast: Cast, shared_world: World) -> None:
    def ids_and_roles(person: Person) -> dict[int, str]:
        return {p["id"]: p["role"] for p in ok(person.client.get("/api/v1/projects"), 200)}

    assert shared_world.project_id not in ids_and_roles(cast.outsider)
    assert shared_world.project_id not in ids_and_roles(cast.newcomer)
    for person, role in ((cast.viewer, "viewer"), (cast.editor, "editor"),
                         (cast.owner, "owner")):
        assert ids_and_roles(person)[shared_world.project_id] == role


def test_a_non_member_learns_nothing_from_any_id(cast: Cast, shared_world: World) -> None:
    """Subtasks, and every object kind, answer a non-member exactly like a missing id."""
    w = shared_world
    for path, kind in ((f"/api/v1/tasks/{w.subtask_id}", "task"),
                       (f"/api/v1/tasks/{w.task_id}", "task"),
                       (f"/api/v1/labels/{w.label_id}", "label"),
                       (f"/api/v1/projects/{w.project_id}", "project")):
        mine = cast.outsider.client.get(path)
        missing = cast.outsider.client.get(path.rsplit("/", 1)[0] + f"/{MISSING_ID}")
        assert_problem(mine, 404)
        assert mine.json() == missing.json(), kind


# --- comments ---------------------------------------------------------------------------


def test_comment_rules(server: Any, cast: Cast, world: World) -> None:
    """Authors edit their own comments only; owners may delete anyone's, not edit them."""
    pid = world.project_id
    ok(cast.owner.client.patch(f"/api/v1/projects/{pid}/members/{cast.target.username}",
                               json={"role": "editor"}), 200)
    by_editor = ok(cast.editor.client.post(f"/api/v1/tasks/{world.task_id}/comments",
                                           json={"body": "the editor's note"}), 201)
    url = f"/api/v1/comments/{by_editor['id']}"

    for person, what in ((cast.owner, "an owner editing an editor's comment"),
                         (cast.target, "another editor editing it"),
                         (cast.viewer, "a viewer editing it")):
        before = snapshot(server, pid)
        assert_problem(person.client.patch(url, json={"body": "hijacked"}), 403)
        assert_unchanged(server, pid, before, what)
    for person, what in ((cast.target, "another editor deleting it"),
                         (cast.viewer, "a viewer deleting it")):
        before = snapshot(server, pid)
        assert_problem(person.client.delete(url), 403)
        assert_unchanged(server, pid, before, what)

    edited = ok(cast.editor.client.patch(url, json={"body": "my note, edited"}), 200)
    assert edited["body"] == "my note, edited" and edited["edited_at"] is not None
    assert server.sql("SELECT body FROM comments WHERE id = ?",
                      (by_editor["id"],))[0]["body"] == "my note, edited"

    ok(cast.owner.client.delete(url), 204)
    assert server.sql("SELECT id FROM comments WHERE id = ?", (by_editor["id"],)) == []

    own = ok(cast.editor.client.post(f"/api/v1/tasks/{world.task_id}/comments",
                                     json={"body": "short-lived"}), 201)
    ok(cast.editor.client.delete(f"/api/v1/comments/{own['id']}"), 204)
    assert server.sql("SELECT id FROM comments WHERE id = ?", (own["id"],)) == []


def test_a_viewer_cannot_comment(server: Any, cast: Cast, shared_world: World) -> None:
    before = snapshot(server, shared_world.project_id)
    assert_problem(cast.viewer.client.post(f"/api/v1/tasks/{shared_world.task_id}/comments",
                                           json={"body": "hello"}), 403)
    assert_unchanged(server, shared_world, before, "a viewer's comment")


# --- members ----------------------------------------------------------------------------


def members_of(server: Any, project_id: int) -> dict[int, str]:
    return {row["user_id"]: row["role"] for row in server.sql(
        "SELECT user_id, role FROM project_members WHERE project_id = ?", (project_id,))}


def test_the_last_owner_cannot_demote_or_remove_themselves(server: Any, cast: Cast,
                                                           world: World) -> None:
    pid = world.project_id
    me = f"/api/v1/projects/{pid}/members/{cast.owner.username}"
    for role in ("editor", "viewer"):
        before = snapshot(server, pid)
        assert_problem(cast.owner.client.patch(me, json={"role": role}), 409)
        assert_unchanged(server, pid, before, f"demoting the last owner to {role}")
    before = snapshot(server, pid)
    assert_problem(cast.owner.client.delete(me), 409)
    assert_unchanged(server, pid, before, "the last owner leaving")
    assert members_of(server, pid)[cast.owner.id] == "owner"
    # Making oneself owner again is not a demotion: allowed, and harmless.
    ok(cast.owner.client.patch(me, json={"role": "owner"}), 200)


def test_with_two_owners_one_may_step_down_or_leave(server: Any, cast: Cast,
                                                    world: World) -> None:
    pid = world.project_id
    members = f"/api/v1/projects/{pid}/members"
    ok(cast.owner.client.patch(f"{members}/{cast.editor.username}", json={"role": "owner"}),
       200)
    # The new owner demotes the first; the first is now an editor and cannot undo it.
    ok(cast.editor.client.patch(f"{members}/{cast.owner.username}", json={"role": "editor"}),
       200)
    before = snapshot(server, pid)
    assert_problem(cast.owner.client.patch(f"{members}/{cast.owner.username}",
                                           json={"role": "owner"}), 403)
    assert_unchanged(server, pid, before, "an editor promoting themselves")
    # Now the editor (the former owner) is the only owner: it cannot leave...
    before = snapshot(server, pid)
    assert_problem(cast.editor.client.delete(f"{members}/{cast.editor.username}"), 409)
    assert_unchanged(server, pid, before, "the last owner leaving")
    # ...until there is another owner.
    ok(cast.editor.client.patch(f"{members}/{cast.target.username}", json={"role": "owner"}),
       200)
    ok(cast.editor.client.delete(f"{members}/{cast.editor.username}"), 204)
    assert cast.editor.id not in members_of(server, pid)
    assert_problem(cast.editor.client.get(f"/api/v1/projects/{pid}"), 404)


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_a_member_can_leave(server: Any, cast: Cast, world: World, role: str) -> None:
    pid = world.project_id
    person = cast.viewer if role == "viewer" else cast.editor
    before = event_count(snapshot(server, pid))
    ok(person.client.delete(f"/api/v1/projects/{pid}/members/{person.username}"), 204)
    assert person.id not in members_of(server, pid)
    assert event_count(snapshot(server, pid)) == before + 1
    # Gone means gone: the project and everything in it is now "not found".
    for path in (f"/api/v1/projects/{pid}", f"/api/v1/tasks/{world.task_id}",
                 f"/api/v1/labels/{world.label_id}"):
        assert_problem(person.client.get(path), 404)
    assert pid not in {p["id"] for p in ok(person.client.get("/api/v1/projects"), 200)}


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_a_member_cannot_manage_other_members(server: Any, cast: Cast, world: World,
                                              role: str) -> None:
    pid = world.project_id
    person = cast.viewer if role == "viewer" else cast.editor
    members = f"/api/v1/projects/{pid}/members"
    attempts = [
        ("DELETE", f"{members}/{cast.target.username}", None),
        ("DELETE", f"{members}/{cast.owner.username}", None),
        ("PATCH", f"{members}/{cast.target.username}", {"role": "editor"}),
        ("PATCH", f"{members}/{cast.owner.username}", {"role": "viewer"}),
        ("PATCH", f"{members}/{person.username}", {"role": "owner"}),
        ("POST", members, {"username": cast.newcomer.username, "role": "owner"}),
    ]
    for method, url, body in attempts:
        before = snapshot(server, pid)
        response = person.client.request(method, url, json=body)
        assert_problem(response, 403)
        assert_unchanged(server, pid, before, f"{role}: {method} {url}")


def test_owner_member_errors(server: Any, cast: Cast, world: World) -> None:
    pid = world.project_id
    members = f"/api/v1/projects/{pid}/members"
    for method, url, body, status in [
        ("POST", members, {"username": cast.editor.username, "role": "viewer"}, 409),
        ("POST", members, {"username": "nobody-by-this-name", "role": "viewer"}, 422),
        ("PATCH", f"{members}/{cast.newcomer.username}", {"role": "editor"}, 404),
        ("DELETE", f"{members}/{cast.newcomer.username}", None, 404),
        ("DELETE", f"{members}/nobody-by-this-name", None, 404),
    ]:
        before = snapshot(server, pid)
        assert_problem(cast.owner.client.request(method, url, json=body), status)
        assert_unchanged(server, pid, before, f"{method} {url}")


# --- one project's ids inside another project --------------------------------------------


def test_ids_of_another_project_are_refused(server: Any, cast: Cast, world: World,
                                            shared_world: World) -> None:
    """An editor of both projects still cannot mix their objects."""
    here, there = world, shared_world
    editor = cast.editor.client
    attempts = [
        ("PUT", f"/api/v1/tasks/{here.task_id}/labels/{there.free_label_id}", None, 404),
        ("DELETE", f"/api/v1/tasks/{there.task_id}/labels/{here.label_id}", None, 404),
        ("POST", f"/api/v1/projects/{here.project_id}/tasks",
         {"title": "x", "column_id": there.column_id}, 422),
        ("POST", f"/api/v1/projects/{here.project_id}/tasks",
         {"title": "x", "parent_task_id": there.task_id}, 422),
        ("POST", f"/api/v1/projects/{here.project_id}/tasks",
         {"title": "x", "label_ids": [there.label_id]}, 422),
        ("POST", f"/api/v1/tasks/{here.task_id}/move", {"column_id": there.column_id}, 422),
        ("PATCH", f"/api/v1/tasks/{here.task_id}",
         {"version": here.task_version, "column_id": there.other_column_id}, 422),
        ("PATCH", f"/api/v1/tasks/{here.task_id}",
         {"version": here.task_version, "label_ids": [there.label_id]}, 422),
        ("PATCH", f"/api/v1/tasks/{here.task_id}",
         {"version": here.task_version, "assignees": [cast.outsider.username]}, 422),
    ]
    for method, url, body, status in attempts:
        before_here = snapshot(server, here.project_id)
        before_there = snapshot(server, there.project_id)
        assert_problem(editor.request(method, url, json=body), status)
        assert_unchanged(server, here.project_id, before_here, f"{method} {url} {body}")
        assert_unchanged(server, there.project_id, before_there, f"{method} {url} {body}")
    before = snapshot(server, here.project_id)
    assert_problem(editor.delete(f"/api/v1/columns/{here.empty_column_id}",
                                 params={"move_to": there.column_id}), 422)
    assert_unchanged(server, here.project_id, before, "move_to another project's column")


# --- tokens (per user) ------------------------------------------------------------------


def test_a_user_cannot_revoke_another_users_token(server: Any, cast: Cast) -> None:
    victim, attacker = cast.viewer, cast.outsider
    url = f"/api/v1/tokens/{victim.token_id}"
    before = server.sql("SELECT * FROM api_tokens ORDER BY id")

    response = attacker.client.delete(url)

    problem = assert_problem(response, 404)
    missing = attacker.client.delete(f"/api/v1/tokens/{MISSING_ID}")
    assert missing.status_code == 404 and missing.json() == problem
    assert [tuple(r) for r in server.sql("SELECT * FROM api_tokens ORDER BY id")] == \
        [tuple(r) for r in before]
    ok(victim.client.get("/api/v1/me"), 200)
    assert victim.token_id not in {t["id"] for t in ok(attacker.client.get("/api/v1/tokens"),
                                                       200)}


def test_revoking_my_own_token_signs_it_out(server: Any, cast: Cast) -> None:
    made = ok(cast.newcomer.client.post("/api/v1/tokens", json={"name": "laptop"}), 201)
    with httpx.Client(base_url=server.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {made['token']}"}) as laptop:
        me = ok(laptop.get("/api/v1/me"), 200)
        assert me["username"] == cast.newcomer.username
        revoked = ok(laptop.delete(f"/api/v1/tokens/{made['id']}"), 200)
        assert revoked["revoked_at"] is not None
        response = assert_problem(laptop.get("/api/v1/me"), 401)
        assert response["status"] == 401
    ok(cast.newcomer.client.get("/api/v1/me"), 200)


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/tokens"])
def test_per_user_endpoints_need_a_token(anon: httpx.Client, path: str) -> None:
    response = anon.get(path)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")
