"""A project's settings (owners): name and description, archive, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import ProjectUpdate
from tasklette.services import permissions, projects
from tasklette.services.errors import Conflict, Invalid
from tasklette.services.sessions import Session
from tasklette.storage.database import Row
from tasklette.web.auth import require_session
from tasklette.web.labels_page import error_field, sentence
from tasklette.web.pages import TEXT_FORM_MAX_BYTES, Form, read_form, redirect, render

NOTICES = {"saved": "Saved.", "archived": "The project is archived: it is listed apart, and "
           "its board still works.", "unarchived": "The project is active again."}


async def _owned(request: Request, session: Session) -> Row:
    """The project, for its owners; others get NotFound or Forbidden."""
    project = await projects.get(request.app.state.db, session.actor,
                                 request.path_params["project_id"])
    permissions.require_manage(project["role"], "project")
    return project


def _page(request: Request, project: Row, form: Form | None = None,
          status: int = 200) -> Response:
    form = form or Form({"name": project["name"], "description": project["description"]}, {})
    return render(request, "settings/settings.html", {
        "project": project, "tab": "settings", "nav": "projects", "form": form,
        "notice": NOTICES.get(request.query_params.get("done", ""))}, status=status)


async def settings_page(request: Request) -> Response:
    """The settings (GET) and renaming or redescribing the project (POST)."""
    session = await require_session(request)
    project = await _owned(request, session)
    if request.method == "GET":
        return _page(request, project)
    data, form = await read_form(request, ProjectUpdate, fields=("name", "description"),
                                 max_bytes=TEXT_FORM_MAX_BYTES)
    if data is None:
        return _page(request, project, form, status=422)
    changes = {name: value for name, value in data.model_dump(exclude_unset=True).items()
               if value is not None}
    try:
        await projects.update(request.app.state.db, session.actor, project["id"], changes)
    except (Invalid, Conflict) as exc:
        form.error(error_field(exc, "name"), sentence(exc.detail))
        return _page(request, project, form, status=exc.status)
    return redirect(f"/projects/{project['id']}/settings?done=saved", request)


async def archive_project(request: Request) -> Response:
    """Archive or unarchive, as the form's `archived` field says."""
    session = await require_session(request)
    project = await _owned(request, session)
    data, _ = await read_form(request, ProjectUpdate, fields=("archived",))
    if data is None or data.archived is None:
        raise Invalid("archived must be true or false", field="archived")
    await projects.update(request.app.state.db, session.actor, project["id"],
                          {"archived": data.archived})
    done = "archived" if data.archived else "unarchived"
    return redirect(f"/projects/{project['id']}/settings?done={done}", request)


async def delete_project(request: Request) -> Response:
    session = await require_session(request)
    project = await _owned(request, session)
    await read_form(request, ProjectUpdate, fields=())  # checks the CSRF token
    await projects.delete(request.app.state.db, session.actor, project["id"])
    return redirect("/projects", request)
