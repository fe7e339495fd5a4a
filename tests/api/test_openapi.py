"""The OpenAPI document tells the truth about the server it describes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tasklette.api.openapi import openapi_document
from tests import contract
from tests.conftest import User
from tests.sse import Stream

DOCUMENT = openapi_document()
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def concrete(path: str) -> str:
    """A path of the document with every parameter filled in (ids 1, usernames 'someone')."""
    return re.sub(r"\{(\w+)\}", lambda m: "someone" if m[1] == "username" else
                  "trello" if m[1] == "source" else "1", path)


@pytest.mark.parametrize("path", sorted(DOCUMENT["paths"]))
def test_405_names_every_method_the_path_has(anon: httpx.Client, path: str) -> None:
    documented = {method.upper() for method in DOCUMENT["paths"][path]}
    response = anon.request("TRACE", concrete(path))
    assert response.status_code == 405, response.text
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert allowed - {"HEAD"} == documented
    assert ("HEAD" in allowed) == ("GET" in documented)
    assert response.headers["content-type"] == "application/problem+json"


def operation(path: str, method: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]  # type: ignore[no-any-return]


def parameter(path: str, method: str, name: str) -> dict[str, Any]:
    [found] = [p for p in operation(path, method)["parameters"] if p["name"] == name]
    return found


def component(name: str) -> dict[str, Any]:
    return DOCUMENT["components"]["schemas"][name]  # type: ignore[no-any-return]


def test_a_search_needs_q_and_says_so(owner: User) -> None:
    for path in ("/api/v1/search", "/api/v1/projects/{project_id}/search"):
        q = parameter(path, "get", "q")
        assert q["required"] is True
        assert q["schema"]["minLength"] == 1
    response = owner.client.get("/api/v1/search")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "q"


@pytest.mark.parametrize(("model", "field"), [
    ("LabelUpdate", "name"), ("LabelUpdate", "color"), ("ProjectUpdate", "name"),
    ("ProjectUpdate", "archived"), ("ColumnUpdate", "position"), ("TaskUpdate", "title"),
    ("TaskUpdate", "label_ids"), ("SavedViewUpdate", "name")])
def test_a_field_that_cannot_be_cleared_is_not_nullable(model: str, field: str) -> None:
    schema = component(model)["properties"][field]
    assert "anyOf" not in schema and schema.get("type") != "null", schema


def test_clearable_dates_stay_nullable() -> None:
    due = component("TaskUpdate")["properties"]["due_date"]
    assert {"type": "null"} in due["anyOf"]


def test_null_for_a_label_name_is_refused_as_the_document_says(owner: User,
                                                               project: dict[str, Any]
                                                               ) -> None:
    label = owner.client.post(f"/api/v1/projects/{project['id']}/labels",
                              json={"name": "bug", "color": "#e5484d"}).json()
    response = owner.client.patch(f"/api/v1/labels/{label['id']}", json={"name": None})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    assert owner.client.get(f"/api/v1/labels/{label['id']}").json()["name"] == "bug"


def test_import_sources_are_an_enum() -> None:
    source = parameter("/api/v1/imports/{source}", "post", "source")
    assert source["schema"]["enum"] == ["trello", "todoist", "tasklette"]


@pytest.mark.parametrize("value", ["0", "1700000000", "2026-01-01T00:00:00", "tomorrow"])
def test_a_due_date_filter_that_is_not_a_date_is_422(owner: User, project: dict[str, Any],
                                                     value: str) -> None:
    response = owner.client.get(f"/api/v1/projects/{project['id']}/tasks",
                                params={"due_before": value})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "due_before"


@pytest.mark.parametrize("value", ["1.0", "+1", "1_0", " 1", "\u0661"])
def test_a_query_integer_is_ascii_digits(owner: User, project: dict[str, Any],
                                         value: str) -> None:
    response = owner.client.get(f"/api/v1/projects/{project['id']}/tasks",
                                params={"limit": value})
    assert response.status_code == 422, response.text


def test_a_body_integer_may_be_written_3_0(owner: User, project: dict[str, Any]) -> None:
    response = owner.client.post(f"/api/v1/projects/{project['id']}/columns",
                                 json={"name": "First", "position": 0.0})
    assert response.status_code == 201, response.text
    assert response.json()["position"] == 0
    half = owner.client.post(f"/api/v1/projects/{project['id']}/columns",
                             json={"name": "Half", "position": 0.5})
    assert half.status_code == 422


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_a_bad_username_in_a_member_path_is_a_documented_422(owner: User,
                                                             project: dict[str, Any],
                                                             method: str) -> None:
    path = "/api/v1/projects/{project_id}/members/{username}"
    assert "422" in operation(path, method)["responses"]
    assert parameter(path, method, "username")["schema"]["pattern"]
    kwargs: dict[str, Any] = {"json": {"role": "viewer"}} if method == "patch" else {}
    response = owner.client.request(
        method.upper(), f"/api/v1/projects/{project['id']}/members/not%20a%20name", **kwargs)
    assert response.status_code == 422


def test_create_operations_link_to_what_they_created() -> None:
    links = operation("/api/v1/projects", "post")["responses"]["201"]["links"]
    for target in ("get_project", "update_project", "delete_project", "create_task"):
        assert links[target]["parameters"] == {"project_id": "$response.body#/id"}
    task_links = operation("/api/v1/projects/{project_id}/tasks", "post")["responses"]["201"]
    assert task_links["links"]["update_task"]["parameters"] == {
        "task_id": "$response.body#/id"}
    member = operation("/api/v1/projects/{project_id}/members", "post")["responses"]["201"]
    assert member["links"]["remove_member"]["parameters"] == {
        "project_id": "$request.path.project_id", "username": "$response.body#/username"}


def frame_schema(event: str) -> dict[str, Any]:
    """The document's schema for the `data` of a frame of kind `event`."""
    content = operation("/api/v1/projects/{project_id}/events", "get")["responses"]["200"]
    branches = content["content"]["text/event-stream"]["schema"]["oneOf"]
    for branch in branches:
        kind = branch["properties"]["event"]
        if kind.get("const") == event or ("pattern" in kind and re.match(kind["pattern"], event)
                                         and event not in kind["not"]["enum"]):
            return branch  # type: ignore[no-any-return]
    raise AssertionError(f"the document describes no {event!r} frame")


def test_the_stream_s_frames_are_what_the_document_says(server: Any, owner: User,
                                                        project: dict[str, Any]) -> None:
    stream = Stream(f"{server.base_url}/api/v1/projects/{project['id']}/events?presence=true",
                    {"Authorization": f"Bearer {owner.token}"})
    try:
        presence = stream.until("presence")
        owner.client.post(f"/api/v1/projects/{project['id']}/tasks", json={"title": "Live"})
        [event] = stream.events(1)
    finally:
        stream.close()
    for frame in (presence, event):
        branch = frame_schema(frame.event)
        assert ("id" in branch["required"]) == (frame.id is not None)
        data_schema = {**branch["properties"]["data"]["contentSchema"],
                       "components": DOCUMENT["components"]}
        errors = [e.message for e in jsonschema_rs.validator_for(data_schema)
                  .iter_errors(frame.data)]
        assert not errors, (frame.event, errors)
    assert frame_schema("stream.closed")["properties"]["data"]["contentSchema"]["$ref"] \
        .endswith("/ClosedFrame")


def answer(method: str, path: str, status: int, body: Any,
           media_type: str = "application/json") -> httpx.Response:
    request = httpx.Request(method, f"http://127.0.0.1{path}")
    return httpx.Response(status, json=body, request=request,
                          headers={"content-type": media_type})


def test_the_suite_s_clients_catch_a_body_that_drifts_from_the_document(
        owner: User, project: dict[str, Any]) -> None:
    good = owner.client.get(f"/api/v1/projects/{project['id']}").json()
    contract.check_response(answer("GET", f"/api/v1/projects/{project['id']}", 200, good))
    drifted = {key: value for key, value in good.items() if key != "role"}
    with pytest.raises(AssertionError, match="role"):
        contract.check_response(answer("GET", f"/api/v1/projects/{project['id']}", 200,
                                       drifted))
    with pytest.raises(AssertionError, match="task_count"):
        contract.check_response(answer("GET", "/api/v1/projects", 200,
                                       [{**good, "task_count": "three"}]))
    problem = {"type": "about:blank", "title": "Not found", "detail": "gone"}  # no status
    with pytest.raises(AssertionError, match="status"):
        contract.check_response(answer("GET", "/api/v1/labels/7", 404, problem,
                                       "application/problem+json"))


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/tasks", {"title": "a\x00b"}, "title"),
    ("/tasks", {"title": "ok", "description": "a\x00b"}, "description"),
    ("/labels", {"name": "a\x00b", "color": "#ffffff"}, "name"),
    ("", {"name": "x\x00y"}, "name"),
    ("/views", {"name": "v", "query": "q=a\x00b"}, "query")])
def test_a_nul_in_text_is_refused_as_the_document_says(owner: User, project: dict[str, Any],
                                                       path: str, body: dict[str, Any],
                                                       field: str) -> None:
    # PostgreSQL cannot store U+0000: it used to be a 500 there (found by schemathesis).
    url = f"/api/v1/projects/{project['id']}{path}" if path else "/api/v1/projects"
    response = owner.client.post(url, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_every_text_field_of_a_body_refuses_nul() -> None:
    for name, schema in DOCUMENT["components"]["schemas"].items():
        if not name.endswith(("Create", "Update", "Add")):
            continue
        for field, prop in schema["properties"].items():
            for option in prop.get("anyOf", [prop]):
                if option.get("type") == "string" and not {"enum", "format"} & set(option):
                    pattern = option.get("pattern")
                    assert pattern and not re.search(pattern, "x\x00y"), (name, field)
