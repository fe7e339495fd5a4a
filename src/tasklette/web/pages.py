"""Rendering pages: templates with the signed-in user, CSRF token and asset URLs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import Message

from tasklette.api.schemas import error_message
from tasklette.headers import declared_length
from tasklette.services.errors import TooLarge
from tasklette.web import markdown
from tasklette.web.auth import check_csrf_token, current_session

M = TypeVar("M", bound=BaseModel)
# A form of short fields (names, passwords, a role, the CSRF token).
FORM_MAX_BYTES = 16 * 1024
# A form holding a Markdown text (100,000 characters at most), percent-encoded.
TEXT_FORM_MAX_BYTES = 2 * 1024 * 1024
FORM_MAX_FIELDS = 256  # the task form: up to 100 labels and 100 assignees, and its fields
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)
templates.env.globals["markdown"] = markdown.render  # render() passes the app's cache
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """Render a page or fragment; `session`, `asset` and `csrf_token` are always there."""
    session = request.scope.get("state", {}).get("session")
    values = {"session": session, "user": session.actor if session else None,
              "csrf_token": session.csrf_token if session else "",
              "asset": request.app.state.assets.url,
              "settings": request.app.state.settings,
              "markdown": request.app.state.markdown.render}
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status,
                                          headers=headers)
    assert isinstance(response, HTMLResponse)
    return response


class Form:
    """A submitted form: its raw values (to show again) and, when valid, the model."""

    def __init__(self, values: dict[str, str], errors: dict[str, str]) -> None:
        self.values = values
        self.errors = errors

    def error(self, field: str, message: str) -> None:
        self.errors[field] = message


def limit_body(request: Request, limit: int) -> Request:
    """The same request, whose body is refused (TooLarge, 413) once past `limit` bytes.

    A declared Content-Length over the limit is refused before a byte is read; a body
    without one (chunked) is refused at the first chunk past the limit, so nothing
    beyond it is read, parsed or spooled.
    """
    length = declared_length(request.headers)
    if length is not None and length > limit:
        raise TooLarge(f"the request is larger than the limit of {limit:,} bytes")
    received = 0
    upstream = request.receive

    async def receive() -> Message:
        nonlocal received
        message = await upstream()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(f"the request is larger than the limit of {limit:,} bytes")
        return message

    return Request(request.scope, receive)


async def form_data(request: Request, max_bytes: int = FORM_MAX_BYTES) -> FormData:
    """The posted form's fields, read once with limits: 413 past `max_bytes`, 400 on a file.

    Every web form without files is read here, never with `request.form()` alone,
    which reads a urlencoded or chunked body whole and spools file parts to disk.
    """
    state = request.scope.setdefault("state", {})
    if "form_data" not in state:
        limited = limit_body(request, max_bytes)
        state["form_data"] = await limited.form(max_files=0, max_fields=FORM_MAX_FIELDS,
                                                max_part_size=max_bytes)
    data: FormData = state["form_data"]
    return data


async def read_form(request: Request, model: type[M], fields: tuple[str, ...] | None = None,
                    max_bytes: int = FORM_MAX_BYTES) -> tuple[M | None, Form]:
    """Parse and validate a posted form against the API's model (values converted)."""
    data = await form_data(request, max_bytes)
    session = await current_session(request)
    token = data.get("csrf_token")
    check_csrf_token(request, session, token if isinstance(token, str) else None)
    values = {key: value for key, value in data.items()
              if isinstance(value, str) and key != "csrf_token"}
    form = Form(values, {})
    wanted = {key: value for key, value in values.items()
              if fields is None or key in fields}
    try:
        return model.model_validate(wanted, strict=False), form
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(part) for part in error["loc"]) or "form"
            form.errors.setdefault(field, _plain(error_message(error)))
        return None, form


def _plain(message: str) -> str:
    message = message[:1].upper() + message[1:]  # our rules are written to follow a field
    return message.replace("String should have at least 1 character", "Fill this in") \
        .replace("String should have", "Use")


def redirect(url: str, request: Request) -> Response:
    """A redirect that also works for htmx requests."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"hx-redirect": url})
    return Response(status_code=303, headers={"location": url})
