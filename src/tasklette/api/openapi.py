"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tasklette import __version__
from tasklette.api import notification_schemas as N
from tasklette.api import schemas
from tasklette.api.routes import ENDPOINTS, Endpoint

_STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No content", 400: "Malformed request",
    401: "Missing or invalid API token", 403: "Your role does not allow this",
    404: "Not found, or not visible to you", 409: "Conflicts with the current state",
    413: "Request body too large", 415: "Body is not JSON", 422: "Invalid input",
    428: "The version you read is required",
}
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _problem(status: int) -> dict[str, Any]:
    return {"description": _STATUS_TEXT[status],
            "content": {"application/problem+json": {"schema": _ref(schemas.Problem)}}}


_PATH_SCHEMAS = schemas.PathParameters.model_json_schema()["properties"]
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID}

# What a create operation's answer names, and the path parameter that takes it.
_CREATED: dict[str, tuple[str, str]] = {
    "Project": ("project_id", "$response.body#/id"),
    "ImportResult": ("project_id", "$response.body#/project_id"),
    "Column": ("column_id", "$response.body#/id"),
    "Task": ("task_id", "$response.body#/id"),
    "Label": ("label_id", "$response.body#/id"),
    "Comment": ("comment_id", "$response.body#/id"),
    "SavedView": ("view_id", "$response.body#/id"),
    "TokenCreated": ("token_id", "$response.body#/id"),
    "Attachment": ("attachment_id", "$response.body#/0/id"),
    "Member": ("username", "$response.body#/username"),
}


def _path_parameters(path: str) -> list[tuple[str, str]]:
    return re.findall(r"\{(\w+)(?::(\w+))?\}", path)


def _links(endpoint: Endpoint) -> dict[str, Any]:
    """Links from a create operation to every operation on what it created.

    The created object fills its own parameter; the others are taken from the request
    (a member's project id, say), so a client, or a fuzzer, reaches real objects.
    """
    if endpoint.method != "POST" or endpoint.status != 201 or endpoint.response is None:
        return {}
    created = _CREATED.get(endpoint.response.__name__)
    if created is None:
        return {}
    param, expression = created
    own = {name for name, _ in _path_parameters(endpoint.path)}
    links: dict[str, Any] = {}
    for target in ENDPOINTS:
        names = [name for name, _ in _path_parameters(target.path)]
        if param not in names or target is endpoint:
            continue
        if any(name != param and name not in own for name in names):
            continue  # it needs an object this answer does not name
        links[target.view.__name__] = {
            "operationId": target.view.__name__,
            "parameters": {name: expression if name == param else f"$request.path.{name}"
                           for name in names}}
    return links


def _frame(event: dict[str, Any], data: type[BaseModel], *, with_id: bool) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "object", "required": ["event", "data", *(["id"] if with_id else [])],
        "properties": {"event": event, "data": {
            "type": "string", "contentMediaType": "application/json",
            "contentSchema": _ref(data)}}}
    if with_id:
        frame["properties"]["id"] = {"type": "string", "pattern": "^[0-9]+$"}
    return frame


# Frames without an event id: not events of the table, never replayed.
_UNNUMBERED = ("stream.closed", "notification.count", "notification.created")


def _frames_schema() -> dict[str, Any]:
    """One frame of an event stream (Open API 3.1 reads `schema` as one event's)."""
    return {"description": (
        "Server-Sent Events, one frame per event: `id` (the event id), `event` (its kind, "
        "e.g. task.moved) and `data` (one line of JSON: StreamedEvent). Project streams "
        "also send `presence` frames with no `id` (data: PresenceFrame) when who views the "
        "board changes. Before it ends a stream the server sends `stream.closed` (data: "
        "ClosedFrame). My stream (`/me/events`) opens with a `notification.count` frame "
        "(data: NotificationCountFrame) and sends `notification.created` (data: "
        "NotificationFrame) when I am notified, both with no `id`. A comment line (`:`) is "
        "a heartbeat."),
        "oneOf": [
            _frame({"const": "presence"}, schemas.PresenceFrame, with_id=False),
            _frame({"const": "stream.closed"}, schemas.ClosedFrame, with_id=False),
            _frame({"const": "notification.count"}, N.NotificationCountFrame, with_id=False),
            _frame({"const": "notification.created"}, N.NotificationFrame, with_id=False),
            _frame({"type": "string", "pattern": r"^[a-z]+\.[a-z_.]+$",
                    "not": {"enum": list(_UNNUMBERED)}}, schemas.StreamedEvent,
                   with_id=True)]}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": dict(_ID_SCHEMA) if kind == "id" else _PATH_SCHEMAS[name]}
        for name, kind in _path_parameters(endpoint.path)]
    if endpoint.query is not None:
        query_schema = endpoint.query.model_json_schema(ref_template=_REF)
        required = set(query_schema.get("required", ()))
        for name, prop in query_schema["properties"].items():
            description = prop.pop("description", None)
            parameter = {"name": name, "in": "query", "required": name in required,
                         "schema": prop}
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    operation: dict[str, Any] = {
        "operationId": endpoint.view.__name__, "summary": endpoint.summary,
        "tags": [endpoint.tag], "parameters": parameters,
        "security": [{"bearerAuth": []}], "responses": {},
    }
    if endpoint.if_match:
        parameters.append({"name": "If-Match", "in": "header", "required": False,
                           "schema": {"type": "string",
                                      "pattern": '^(?:W/)?"?[0-9]{1,18}"?$'},
                           "description": 'the version you read, e.g. "3"'})
    success: dict[str, Any] = {"description": _STATUS_TEXT[endpoint.status]}
    if endpoint.response is not None:
        schema: dict[str, Any] = _ref(endpoint.response)
        if endpoint.many:
            schema = {"type": "array", "items": schema}
        success["content"] = {"application/json": {"schema": schema}}
    if endpoint.stream:
        success["content"] = {"text/event-stream": {"schema": _frames_schema()}}
        parameters.append({"name": "Last-Event-ID", "in": "header", "required": False,
                           "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
                           "description": "resume after this event id"})
    links = _links(endpoint)
    if links:
        success["links"] = links
    operation["responses"][str(endpoint.status)] = success
    errors = {401, *endpoint.errors}
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": _ref(endpoint.body)}}}
        errors |= {400, 413, 415, 422}
    if endpoint.raw_body is not None:
        operation["requestBody"] = {"required": True, "content": endpoint.raw_body}
    if endpoint.query is not None:
        errors.add(422)
    for status in sorted(errors):
        operation["responses"][str(status)] = _problem(status)
    return operation


def openapi_document() -> dict[str, Any]:
    models: set[type[BaseModel]] = {schemas.Problem, schemas.StreamedEvent,
                                    schemas.PresenceFrame, schemas.ClosedFrame,
                                    N.NotificationCountFrame, N.NotificationFrame}
    for endpoint in ENDPOINTS:
        models.update(m for m in (endpoint.body, endpoint.response) if m is not None)
    _, definitions = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", endpoint.path)
        paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tasklette API", "version": __version__,
                 "description": "The JSON API of Tasklette. Authenticate with "
                                "`Authorization: Bearer <token>`; create a token with "
                                "`tasklette token create USERNAME`. Errors are "
                                "`application/problem+json`."},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
