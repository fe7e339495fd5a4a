"""Saved views on the list page: the project's named filters, and saving, renaming and
deleting them (forms that come back to the list)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import BaseModel, StringConstraints
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import Name
from tasklette.api.search import VIEW_PARAMS, view_query
from tasklette.services import permissions, saved_views
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.storage.database import Database, Row
from tasklette.web.auth import require_session
from tasklette.web.pages import read_form, redirect

MESSAGES = {
    "saved": "The view is saved: everyone in the project sees it here.",
    "renamed": "The view is renamed.", "deleted": "The view is deleted.",
    "taken": "The project already has a view with that name; choose another name.",
    "name": "Name the view in 1 to 100 characters.",
    "invalid": "These filters cannot be saved as a view; correct them first.",
}


class ViewForm(BaseModel):
    name: Name
    query: Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")] = ""


async def list_context(db: Database, actor: Actor, project: Row,
                       params: dict[str, str]) -> dict[str, Any]:
    """What the list page shows of saved views: the views, which one is open, and whether
    the current filters can be saved."""
    views = await saved_views.list_for_project(db, actor, project["id"])
    try:
        current = view_query(urlencode({k: v for k, v in params.items() if k in VIEW_PARAMS}))
    except Invalid:
        current = None
    open_view = next((view for view in views if view["query"] == current), None)
    message = params.get("view_message", "")
    return {"views": views, "open_view": open_view, "view_query": current,
            "can_save_view": permissions.can_edit(project["role"]) and bool(current)
            and open_view is None,
            "can_edit_views": permissions.can_edit(project["role"]),
            "view_message": MESSAGES.get(message, ""),
            "view_message_is_error": message in ("taken", "name", "invalid")}


def _back(request: Request, query: str, message: str) -> Response:
    path = f"/projects/{request.path_params['project_id']}/list"
    suffix = f"{query}&" if query else ""
    return redirect(f"{path}?{suffix}view_message={message}", request)


async def create_view(request: Request) -> Response:
    """POST /projects/{id}/views: save the list's current filters under a name."""
    session = await require_session(request)
    data, form = await read_form(request, ViewForm)
    raw = form.values.get("query", "")
    try:
        query = view_query(raw)
    except Invalid:
        return _back(request, "", "invalid")
    if data is None:
        return _back(request, query, "name")
    try:
        await saved_views.create(request.app.state.db, session.actor,
                                 request.path_params["project_id"], data.name, query)
    except Conflict:
        return _back(request, query, "taken")
    except Invalid:
        return _back(request, "", "invalid")
    return _back(request, query, "saved")


async def rename_view(request: Request) -> Response:
    """POST /projects/{id}/views/{view_id}/rename."""
    session = await require_session(request)
    data, _ = await read_form(request, ViewForm, fields=("name",))
    db, view_id = request.app.state.db, request.path_params["view_id"]
    view = await saved_views.get(db, session.actor, view_id)
    if view["project_id"] != request.path_params["project_id"]:
        raise NotFound("saved view not found")
    if data is None:
        return _back(request, view["query"], "name")
    try:
        view = await saved_views.update(db, session.actor, view_id, data.name, None)
    except Conflict:
        return _back(request, view["query"], "taken")
    return _back(request, view["query"], "renamed")


async def delete_view(request: Request) -> Response:
    """POST /projects/{id}/views/{view_id}/delete."""
    session = await require_session(request)
    await read_form(request, ViewForm, fields=())  # checks the CSRF token
    db, view_id = request.app.state.db, request.path_params["view_id"]
    view = await saved_views.get(db, session.actor, view_id)
    if view["project_id"] != request.path_params["project_id"]:
        raise NotFound("saved view not found")
    await saved_views.delete(db, session.actor, view_id)
    return _back(request, "", "deleted")
