"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tasklette import __version__
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


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    path_params = re.findall(r"\{(\w+)(?::(\w+))?\}", endpoint.path)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 1} if kind == "id" else {"type": "string"}}
        for name, kind in path_params]
    if endpoint.query is not None:
        query_schema = endpoint.query.model_json_schema(ref_template=_REF)
        for name, prop in query_schema["properties"].items():
            description = prop.pop("description", None)
            parameter = {"name": name, "in": "query", "required": False, "schema": prop}
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    operation: dict[str, Any] = {
        "operationId": endpoint.view.__name__, "summary": endpoint.summary,
        "tags": [endpoint.tag], "parameters": parameters,
        "security": [{"bearerAuth": []}], "responses": {},
    }
    if endpoint.method == "PATCH" and endpoint.body is schemas.TaskUpdate:
        parameters.append({"name": "If-Match", "in": "header", "required": False,
                           "schema": {"type": "string"},
                           "description": 'the version you read, e.g. "3"'})
    success: dict[str, Any] = {"description": _STATUS_TEXT[endpoint.status]}
    if endpoint.response is not None:
        schema: dict[str, Any] = _ref(endpoint.response)
        if endpoint.many:
            schema = {"type": "array", "items": schema}
        success["content"] = {"application/json": {"schema": schema}}
    if endpoint.stream:
        success["content"] = {"text/event-stream": {"schema": {
            "type": "string", "description": "one frame per event: `id` (the event id), "
            "`event` (its kind, e.g. task.moved) and `data` (the event as JSON, with its "
            "payload); `presence` frames list who views the board; a comment line is a "
            "heartbeat"}}}
        parameters.append({"name": "Last-Event-ID", "in": "header", "required": False,
                           "schema": {"type": "string"},
                           "description": "resume after this event id"})
    operation["responses"][str(endpoint.status)] = success
    errors = {401, *endpoint.errors}
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": _ref(endpoint.body)}}}
        errors |= {400, 413, 415, 422}
    if endpoint.query is not None:
        errors.add(422)
    for status in sorted(errors):
        operation["responses"][str(status)] = _problem(status)
    return operation


def openapi_document() -> dict[str, Any]:
    models: set[type[BaseModel]] = {schemas.Problem}
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
