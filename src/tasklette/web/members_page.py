"""The members page of a project: who is in it with which role; owners manage them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import MemberAdd, MemberUpdate
from tasklette.services import members, permissions, projects
from tasklette.services.errors import Conflict, Invalid
from tasklette.services.sessions import Session
from tasklette.storage.database import Row
from tasklette.web.auth import require_session
from tasklette.web.labels_page import error_field, sentence
from tasklette.web.pages import Form, read_form, redirect, render
from tasklette.web.task_list import day_label

ROLE_HELP = (
    ("owner", "Owner", "manages members and the project itself"),
    ("editor", "Editor", "changes tasks, labels, comments and columns"),
    ("viewer", "Viewer", "reads everything, changes nothing"),
)


async def _page(request: Request, session: Session, project: Row, *,
                form: Form | None = None, row_errors: dict[str, str] | None = None,
                leave_error: str | None = None, status: int = 200) -> Response:
    rows = await members.list_for_project(request.app.state.db, session.actor, project["id"])
    for row in rows:
        row["since"] = day_label(row["added_at"][:10])
    return render(request, "members/members.html", {
        "project": project, "tab": "members", "nav": "projects", "members": rows,
        "form": form or Form({"role": "editor"}, {}), "row_errors": row_errors or {},
        "leave_error": leave_error, "roles": ROLE_HELP,
        "can_manage": permissions.can_manage(project["role"]),
        "owner_count": sum(1 for row in rows if row["role"] == "owner")}, status=status)


async def _project(request: Request, session: Session) -> Row:
    return await projects.get(request.app.state.db, session.actor,
                              request.path_params["project_id"])


async def members_page(request: Request) -> Response:
    """The list (GET) and adding a member by username (POST, owners)."""
    session = await require_session(request)
    project = await _project(request, session)
    if request.method == "GET":
        return await _page(request, session, project)
    permissions.require_manage(project["role"], "project")
    data, form = await read_form(request, MemberAdd)
    if data is None:
        return await _page(request, session, project, form=form, status=422)
    try:
        await members.add(request.app.state.db, session.actor, project["id"], data.username,
                          data.role)
    except (Invalid, Conflict) as exc:
        form.error(error_field(exc, "username"), sentence(exc.detail))
        return await _page(request, session, project, form=form, status=exc.status)
    return redirect(f"/projects/{project['id']}/members", request)


async def change_role(request: Request) -> Response:
    session = await require_session(request)
    project = await _project(request, session)
    permissions.require_manage(project["role"], "project")
    username = request.path_params["username"]
    data, _ = await read_form(request, MemberUpdate)
    try:
        if data is None:
            raise Invalid("choose owner, editor or viewer", field="role")
        await members.change_role(request.app.state.db, session.actor, project["id"],
                                  username, data.role)
    except (Invalid, Conflict) as exc:
        return await _page(request, session, project,
                           row_errors={username.lower(): sentence(exc.detail)}, status=exc.status)
    return redirect(f"/projects/{project['id']}/members", request)


async def remove_member(request: Request) -> Response:
    """Remove someone else (owners); removing oneself is leaving."""
    session = await require_session(request)
    project = await _project(request, session)
    username = request.path_params["username"]
    if username.lower() != session.actor.username:
        permissions.require_manage(project["role"], "project")
    await read_form(request, MemberUpdate, fields=())  # checks the CSRF token
    try:
        await members.remove(request.app.state.db, session.actor, project["id"], username)
    except Conflict as exc:
        return await _page(request, session, project,
                           row_errors={username.lower(): sentence(exc.detail)}, status=exc.status)
    if username.lower() == session.actor.username:
        return redirect("/projects", request)
    return redirect(f"/projects/{project['id']}/members", request)


async def leave_project(request: Request) -> Response:
    """Leave the project (anyone); the last owner is told to hand over first."""
    session = await require_session(request)
    project = await _project(request, session)
    await read_form(request, MemberUpdate, fields=())  # checks the CSRF token
    try:
        await members.remove(request.app.state.db, session.actor, project["id"],
                             session.actor.username)
    except Conflict as exc:
        return await _page(request, session, project, leave_error=sentence(exc.detail),
                           status=exc.status)
    return redirect("/projects", request)
