"""Pages: the list of my projects, and creating one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import ProjectCreate
from tasklette.services import projects
from tasklette.web.auth import require_session
from tasklette.web.pages import Form, read_form, redirect, render


async def projects_page(request: Request) -> Response:
    session = await require_session(request)
    form, status = Form({}, {}), 200
    if request.method == "POST":
        data, form = await read_form(request, ProjectCreate)
        if data is not None:
            project = await projects.create(request.app.state.db, session.actor, data.name,
                                            data.description)
            return redirect(f"/projects/{project['id']}", request)
        status = 422
    rows = await projects.list_mine(request.app.state.db, session.actor)
    return render(request, "projects/list.html", {
        "active": [p for p in rows if not p["archived"]],
        "archived": [p for p in rows if p["archived"]],
        "form": form, "nav": "projects"}, status=status)
