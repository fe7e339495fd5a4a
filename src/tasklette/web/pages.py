"""Rendering pages: templates with the signed-in user, CSRF token and asset URLs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from tasklette.web import markdown
from tasklette.web.auth import check_csrf_token, current_session

M = TypeVar("M", bound=BaseModel)
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


async def read_form(request: Request, model: type[M],
                    fields: tuple[str, ...] | None = None) -> tuple[M | None, Form]:
    """Parse and validate a posted form against the API's model (values converted)."""
    data = await request.form()
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
            form.errors.setdefault(field, _plain(error["msg"]))
        return None, form


def _plain(message: str) -> str:
    return message.replace("String should have at least 1 character", "Fill this in") \
        .replace("String should have", "Use")


def redirect(url: str, request: Request) -> Response:
    """A redirect that also works for htmx requests."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"hx-redirect": url})
    return Response(status_code=303, headers={"location": url})
