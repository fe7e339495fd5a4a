"""HTTP plumbing of the API: JSON in and out, problem details, bearer authentication."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import error_message
from tasklette.headers import declared_length
from tasklette.numbers import int_or_none
from tasklette.services import tokens
from tasklette.services.errors import ServiceError, Unauthenticated
from tasklette.services.permissions import Actor
from tasklette.storage.database import DatabaseUnavailable

log = logging.getLogger("tasklette.api")

M = TypeVar("M", bound=BaseModel)


class JSON(Response):
    """A JSON response rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Problem(Exception):
    """An HTTP error raised by the API plumbing itself (as opposed to a service)."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(status: int, title: str, detail: str,
                     headers: Mapping[str, str] | None = None, **extra: Any) -> JSON:
    content = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    content.update({key: value for key, value in extra.items() if value is not None})
    response = JSON(content, status_code=status, headers=headers)
    response.headers["content-type"] = "application/problem+json"
    return response


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        errors.append({"field": ".".join(loc) or None, "message": error_message(error)})
    return errors


# --- input ------------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    declared = declared_length(request.headers)
    if declared is not None and declared > limit:
        raise Problem(413, "Content too large",
                      f"the request body is over the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(413, "Content too large",
                          f"the request body is over the limit of {limit} bytes")
    return bytes(body)


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate a JSON body against `model`: 415, 413, 400 or 422 when it does not fit."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise Problem(415, "Unsupported media type",
                      "send the request body as JSON, with Content-Type: application/json")
    body = await read_body(request, request.app.state.settings.max_json_body_bytes)
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise Problem(400, "Malformed JSON", "the request body is not valid JSON") from None
        if any(error["type"] == "model_type" for error in exc.errors()):
            raise Problem(422, "Invalid input", "the request body must be a JSON object",
                          errors=_field_errors(exc)) from None
        raise Problem(422, "Invalid input", "some fields are not valid; see errors",
                      errors=_field_errors(exc)) from None


def parse_query(request: Request, model: type[M]) -> M:
    """Validate the query string against `model` (422 when it does not fit)."""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            raise Problem(422, "Invalid input", f"the parameter {key!r} is given twice",
                          errors=[{"field": key, "message": "given more than once"}])
        params[key] = value
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise Problem(422, "Invalid input", "some query parameters are not valid; see errors",
                      errors=_field_errors(exc)) from None


def if_match_version(request: Request) -> int | None:
    """The task version named by an If-Match header (`"3"`, `W/"3"` or `3`), if any."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    version = int_or_none(raw.strip().removeprefix("W/").strip('"'))
    if version is None:
        raise Problem(400, "Bad request", "If-Match must name a task version, like \"3\"")
    return version


# --- authentication ---------------------------------------------------------------------


def bears_token(request: Request) -> bool:
    """Whether the request authenticates with a bearer token (not a browser session)."""
    from tasklette.web.auth import bearer_token

    return bearer_token(request.headers.get("authorization")) is not None


async def authenticate(request: Request) -> Actor:
    """The user of the request's bearer token, or of its browser session; 401 otherwise.

    Only a bearer token counts as one: any other Authorization header (HTTP Basic for
    a proxy in front, say) is a browser's, so the session and its CSRF checks apply.
    """
    from tasklette.web.auth import bearer_token, check_csrf_token, current_session

    secret = bearer_token(request.headers.get("authorization"))
    if secret is None:
        session = await current_session(request)
        if session is not None:
            check_csrf_token(request, session, request.headers.get("x-csrf-token"))
            return session.actor
        raise Unauthenticated("send an API token: Authorization: Bearer <token>")
    actor = await tokens.authenticate(request.app.state.db, secret)
    if actor is None:
        raise Unauthenticated("the API token is not valid, or it was revoked")
    return actor


# --- errors -----------------------------------------------------------------------------


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.title, exc.detail, **exc.extra)


async def handle_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = {"www-authenticate": 'Bearer realm="tasklette"'} if exc.status == 401 else None
    return problem_response(exc.status, exc.title, exc.detail, headers=headers, **exc.extra)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        detail = "there is nothing at this address"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed here"
    else:
        detail = str(exc.detail)
    return problem_response(exc.status_code, _TITLES.get(exc.status_code, "Error"), detail,
                            headers=exc.headers)


RETRY_AFTER = {"retry-after": "1"}


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    """503 and Retry-After: the database is busy or out of reach (any other error is a 500)."""
    assert isinstance(exc, DatabaseUnavailable)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(503, "Service unavailable",
                            "the database is busy or out of reach; try again in a moment",
                            headers=RETRY_AFTER)


_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Last resort: a readable 500 (the error itself is logged by the server)."""
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "Internal server error",
                            "something went wrong on our side; try again, and tell the "
                            "administrator if it keeps happening")
