"""The labels page of a project: list, create, rename and recolour, delete."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import LabelCreate, LabelUpdate
from tasklette.services import labels, permissions, projects
from tasklette.services.errors import Conflict, Invalid, NotFound, ServiceError
from tasklette.services.sessions import Session
from tasklette.storage.database import Row
from tasklette.web.auth import require_session
from tasklette.web.pages import Form, read_form, redirect, render

# Offered for a new label, one after another, so a fresh project gets distinct colours.
PALETTE = ("#e5484d", "#f76b15", "#ffc53d", "#46a758", "#12a594", "#0090ff", "#3e63dd",
           "#8e4ec6", "#d6409f", "#8d8d8d")
COLOR_MESSAGE = "Write a colour as #rrggbb, e.g. #e5484d."
HEX = re.compile(r"#[0-9a-f]{6}")


def picker_value(typed: str) -> str:
    """What a colour picker can show for a typed value (it only takes #rrggbb)."""
    value = typed.strip().lower()
    if len(value) == 4 and HEX.fullmatch("#" + "".join(c * 2 for c in value[1:])):
        return "#" + "".join(c * 2 for c in value[1:])
    return value if HEX.fullmatch(value) else "#8d8d8d"


def sentence(text: str) -> str:
    """A service message as a sentence: capitalised, with a full stop."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def error_field(exc: ServiceError, default: str) -> str:
    """The form field a service error is about (`default` when it does not say)."""
    errors = exc.extra.get("errors") or [{}]
    return str(errors[0].get("field") or default)


def _friendly(form: Form) -> Form:
    if "color" in form.errors:
        form.errors["color"] = COLOR_MESSAGE
    return form


async def _page(request: Request, session: Session, project: Row, form: Form,
                edits: dict[int, Form] | None = None, status: int = 200) -> Response:
    rows = await labels.list_for_project(request.app.state.db, session.actor, project["id"])
    if not form.values:
        form.values["color"] = PALETTE[len(rows) % len(PALETTE)]
    edits = {row["id"]: (edits or {}).get(row["id"]) or Form(
        {"name": row["name"], "color": row["color"]}, {}) for row in rows}
    return render(request, "labels/labels.html", {
        "project": project, "tab": "labels", "nav": "projects", "labels": rows,
        "form": form, "edits": edits, "picker": picker_value,
        "can_edit": permissions.can_edit(project["role"])}, status=status)


async def labels_page(request: Request) -> Response:
    """The list (GET) and creating a label (POST)."""
    session = await require_session(request)
    db = request.app.state.db
    project = await projects.get(db, session.actor, request.path_params["project_id"])
    form, status = Form({}, {}), 200
    if request.method == "POST":
        permissions.require_edit(project["role"], "project")
        data, form = await read_form(request, LabelCreate)
        if data is None:
            return await _page(request, session, project, _friendly(form), status=422)
        try:
            await labels.create(db, session.actor, project["id"], data.name, data.color)
        except (Invalid, Conflict) as exc:
            form.error(error_field(exc, "name"), sentence(exc.detail))
            status = exc.status
        else:
            return redirect(f"/projects/{project['id']}/labels", request)
    return await _page(request, session, project, form, status=status)


async def _label_of(request: Request, session: Session) -> tuple[Row, Row]:
    """The project and the label named in the path; NotFound unless it is that project's."""
    db = request.app.state.db
    project = await projects.get(db, session.actor, request.path_params["project_id"])
    permissions.require_edit(project["role"], "project")
    label = await labels.get(db, session.actor, request.path_params["label_id"])
    if label["project_id"] != project["id"]:
        raise NotFound("label not found")
    return project, label


async def update_label(request: Request) -> Response:
    """Rename and/or recolour a label; errors are shown in that label's row."""
    session = await require_session(request)
    project, label = await _label_of(request, session)
    data, form = await read_form(request, LabelUpdate)
    status = 422
    if data is not None:
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()
                   if v is not None}
        try:
            await labels.update(request.app.state.db, session.actor, label["id"], changes)
        except (Invalid, Conflict) as exc:
            form.error(error_field(exc, "name"), sentence(exc.detail))
            status = exc.status
        else:
            return redirect(f"/projects/{project['id']}/labels", request)
    return await _page(request, session, project, Form({}, {}),
                       edits={label["id"]: _friendly(form)}, status=status)


async def delete_label(request: Request) -> Response:
    session = await require_session(request)
    project, label = await _label_of(request, session)
    await read_form(request, LabelUpdate, fields=())  # checks the CSRF token
    await labels.delete(request.app.state.db, session.actor, label["id"])
    return redirect(f"/projects/{project['id']}/labels", request)
