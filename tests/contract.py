"""Every API response the suite receives is checked against the OpenAPI document.

An httpx response hook finds the operation of the request in the document and validates
the JSON body against the schema declared for its status, so the document cannot drift
from what the server returns. Statuses the document does not declare are left to the
schemathesis run (tests/api/test_openapi_fuzz.py).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import httpx
import jsonschema_rs

from tasklette.api.openapi import openapi_document

_JSON_TYPES = ("application/json", "application/problem+json")


@functools.cache
def _document() -> dict[str, Any]:
    return openapi_document()


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    """Path patterns of the document; literal segments first, so /me/calendar beats /me/{x}."""
    paths = sorted(_document()["paths"], key=lambda path: path.count("{"))
    return [(re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in paths]


@functools.cache
def _validator(path: str, method: str, status: str, media_type: str
               ) -> jsonschema_rs.Validator | None:
    operation = _document()["paths"][path].get(method)
    response = (operation or {}).get("responses", {}).get(status)
    schema = ((response or {}).get("content") or {}).get(media_type, {}).get("schema")
    if schema is None:
        return None
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema,
            "components": _document()["components"]}
    return jsonschema_rs.validator_for(root)


def operation_of(method: str, path: str) -> str | None:
    for pattern, template in _routes():
        if pattern.match(path):
            return template if method.lower() in _document()["paths"][template] else None
    return None


def check_response(response: httpx.Response) -> None:
    """Raise AssertionError when a JSON answer does not match the document's schema."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in _JSON_TYPES:
        return
    request = response.request
    template = operation_of(request.method, request.url.path)
    if template is None:
        return
    validator = _validator(template, request.method.lower(), str(response.status_code),
                           media_type)
    if validator is None:
        return
    response.read()
    body = json.loads(response.content)
    errors = [f"{'/'.join(map(str, error.instance_path)) or '(body)'}: {error.message}"
              for error in validator.iter_errors(body)]
    assert not errors, (
        f"{request.method} {request.url.path} answered {response.status_code} with a body "
        f"the OpenAPI document does not allow ({template}):\n  " + "\n  ".join(errors[:5]))


def client(**kwargs: Any) -> httpx.Client:
    """An httpx client whose every API response is checked against the document."""
    hooks = kwargs.pop("event_hooks", {})
    hooks = {**hooks, "response": [*hooks.get("response", []), check_response]}
    return httpx.Client(event_hooks=hooks, **kwargs)
