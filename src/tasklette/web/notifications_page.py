"""The notifications page (grouped by task, newest first), marking read, and the form
that watches or unwatches a whole project."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from tasklette.numbers import int_or_none
from tasklette.services import notifications, watching
from tasklette.services.errors import Invalid
from tasklette.web.auth import require_session
from tasklette.web.pages import form_data, read_form, redirect, render

CHANGE_NAMES = {"column_id": "the column", "due_date": "the due date",
                "completed": "completion"}


class ProjectWatch(BaseModel):
    watching: bool
    back: str = ""


class MarkAll(BaseModel):
    all: bool = False


@dataclass
class TaskGroup:
    """One task's notifications on the page, newest first."""

    task_id: int
    task_title: str
    project_id: int
    project_name: str
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unread(self) -> int:
        return sum(1 for item in self.items if item["read_at"] is None)


def sentence(item: dict[str, Any]) -> str:
    """What a notification says, in a sentence (its actor first)."""
    who = item["actor_display_name"] or item["actor_username"] or "A former member"
    kind = item["kind"]
    if kind == "assigned":
        return f"{who} assigned you to this task"
    if kind == "mentioned":
        return f"{who} mentioned you"
    if kind == "commented":
        return f"{who} commented"
    changes = [CHANGE_NAMES.get(name, name) for name in item["detail"].get("changes", [])]
    return f"{who} changed {' and '.join(changes) or 'the task'}"


def grouped(items: list[dict[str, Any]]) -> list[TaskGroup]:
    """Notifications by task; tasks in the order of their newest notification."""
    groups: dict[int, TaskGroup] = {}
    for item in items:
        group = groups.get(item["task_id"])
        if group is None:
            group = groups[item["task_id"]] = TaskGroup(
                item["task_id"], item["task_title"], item["project_id"], item["project_name"])
        group.items.append({**item, "text": sentence(item)})
    return list(groups.values())


async def notifications_page(request: Request) -> Response:
    session = await require_session(request)
    unread_only = request.query_params.get("unread") == "1"
    cursor = request.query_params.get("before") or None
    page = await notifications.list_mine(request.app.state.db, session.actor,
                                         unread_only=unread_only, cursor=cursor)
    return render(request, "notifications/notifications.html", {
        "groups": grouped(page.items), "unread_count": page.unread_count,
        "unread_only": unread_only, "next_cursor": page.next_cursor,
        "nav": "notifications"})


async def mark_read(request: Request) -> Response:
    """Mark the posted `ids` read, or all of them with `all`; back to the page."""
    session = await require_session(request)
    data, _ = await read_form(request, MarkAll)
    posted = await form_data(request)
    ids: list[int] = []
    for value in posted.getlist("ids"):
        number = int_or_none(value) if isinstance(value, str) else None
        if number is None or number < 1:
            raise Invalid("a notification id is a whole number", field="ids")
        ids.append(number)
    if not (data is not None and data.all) and not ids:
        raise Invalid("choose notifications to mark read, or mark all read", field="ids")
    await notifications.mark_read(request.app.state.db, session.actor,
                                  None if data is not None and data.all else ids)
    return redirect("/notifications", request)


async def set_project_watch(request: Request) -> Response:
    """Watch or unwatch a project, then back to the project page the form was on."""
    session = await require_session(request)
    project_id = request.path_params["project_id"]
    data, _ = await read_form(request, ProjectWatch)
    if data is None:
        raise Invalid("say whether you watch the project (watching: true or false)",
                      field="watching")
    await watching.set_project(request.app.state.db, session.actor, project_id,
                               data.watching)
    back = data.back
    if not back.startswith(("/projects/", "/tasks/")) or "//" in back or "\\" in back:
        back = f"/projects/{project_id}/activity"
    return redirect(back, request)
