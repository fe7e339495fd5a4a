"""Task pages: a task's detail (a page of its own, or the board's dialog) and its edits.

Every edit is a POST form that works without JavaScript (it redirects back to the
task); htmx requests get the re-rendered detail instead, and when they come from the
board's dialog (header X-Tasklette-Board) the board's card too, swapped out of band.
"""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import CommentCreate, Id, TaskCreate, TaskUpdate
from tasklette.live import streams
from tasklette.numbers import int_or_none
from tasklette.services import (
    activity,
    columns,
    comments,
    labels,
    members,
    permissions,
    projects,
    tasks,
    watching,
)
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.services.sessions import Session
from tasklette.storage.database import Database
from tasklette.web import attachments as attachment_pages
from tasklette.web.activity_text import describe
from tasklette.web.auth import require_session
from tasklette.web.board import MONTHS, card_view, is_htmx, today_iso
from tasklette.web.pages import (
    TEXT_FORM_MAX_BYTES,
    Form,
    form_data,
    read_form,
    redirect,
    render,
)

# Scalar fields of the task form, validated by the API's TaskUpdate; dates and the
# label and assignee lists are read by hand (empty dates clear, lists repeat).
SCALARS = ("version", "title", "description", "priority", "column_id", "completed")
DATES = ("start_date", "due_date")


class Nothing(BaseModel):
    """A form with no fields of its own (only the CSRF token)."""


class TaskRef(BaseModel):
    task_id: Id


class Completed(BaseModel):
    completed: bool


class Watching(BaseModel):
    watching: bool


class Detail:
    """What the detail shows besides the task: a submitted form and its errors."""

    def __init__(self, values: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None) -> None:
        self.values = values
        self.errors = errors or {}
        self.conflict: dict[str, Any] | None = None
        self.comment_form: Form | None = None
        self.subtask_form: Form | None = None
        self.editing: tuple[int, Form] | None = None
        self.saved = False


def _message(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _when(iso: str) -> str:
    """`2026-05-31T14:03:09.123Z` as `31 May 2026, 14:03 UTC` (task.js shows local time)."""
    return f"{int(iso[8:10])} {MONTHS[int(iso[5:7]) - 1]} {iso[:4]}, {iso[11:16]} UTC"


def _values_of(task: dict[str, Any]) -> dict[str, Any]:
    """The task form's values for a task as it is stored."""
    return {
        "version": str(task["version"]), "title": task["title"],
        "description": task["description"], "priority": task["priority"],
        "column_id": str(task["column_id"] or ""), "completed": task["completed"],
        "start_date": task["start_date"] or "", "due_date": task["due_date"] or "",
        "label_ids": {label["id"] for label in task["labels"]},
        "assignees": {person["username"] for person in task["assignees"]},
    }


def _values_posted(data: FormData) -> dict[str, Any]:
    """The task form's values as they were typed, to show them again."""
    def text(name: str) -> str:
        value = data.get(name, "")
        return value if isinstance(value, str) else ""

    return {
        **{name: text(name) for name in ("version", "title", "description", "priority",
                                         "column_id", *DATES)},
        "completed": text("completed") in ("true", "on", "1"),
        "label_ids": {n for v in data.getlist("label_ids")
                      if isinstance(v, str) and (n := int_or_none(v)) is not None},
        "assignees": {v for v in data.getlist("assignees") if isinstance(v, str) and v},
    }


async def _detail(request: Request, session: Session, task_id: int, detail: Detail,
                  status: int = 200) -> Response:
    """Render the task's detail: the whole page, or the fragment for htmx."""
    db, actor = request.app.state.db, session.actor
    async with db.reading():  # the page's many reads see one snapshot
        return await _detail_in_snapshot(request, db, actor, task_id, detail, status)


async def _detail_in_snapshot(request: Request, db: Database, actor: Actor, task_id: int,
                              detail: Detail, status: int) -> Response:
    task = await tasks.get(db, actor, task_id)
    htmx = is_htmx(request)
    # The task's own page follows the project live (the board's dialog already does).
    live = None if htmx else await streams.page_start(db, actor, task["project_id"])
    project = await projects.get(db, actor, task["project_id"])
    cols = await columns.list_for_project(db, actor, project["id"])
    people = await members.list_for_project(db, actor, project["id"])
    role = project["role"]
    notes = await comments.list_for_task(db, actor, task_id)
    for comment in notes:
        comment["can_edit"] = permissions.can_edit_comment(role, actor, comment["author_id"])
        comment["can_delete"] = permissions.can_delete_comment(role, actor,
                                                               comment["author_id"])
        comment["when"] = _when(comment["created_at"])
    column_names = {column["id"]: column["name"] for column in cols}
    names = {person["username"]: person["display_name"] or person["username"]
             for person in people}
    events = [{"text": describe(event, column_names, names), "created_at": event["created_at"],
               "when": _when(event["created_at"])}
              for event in await activity.for_task(db, actor, task_id)]
    parent = None
    if task["parent_task_id"] is not None:
        parent = await tasks.get(db, actor, task["parent_task_id"])
    board_card = None
    if htmx and request.headers.get("x-tasklette-board") and task["parent_task_id"] is None:
        board_card = card_view(dict(task), today_iso())
    template = "tasks/_detail.html" if htmx else "tasks/page.html"
    return render(request, template, {
        "task": task, "project": project, "columns": cols, "members": people,
        "labels": await labels.list_for_project(db, actor, project["id"]),
        "comments": notes, "activity": events, "parent": parent,
        "column_name": column_names.get(task["column_id"], ""),
        "can_edit": permissions.can_edit(role),
        "values": detail.values or _values_of(task), "errors": detail.errors,
        "conflict": detail.conflict, "comment_form": detail.comment_form or Form({}, {}),
        "subtask_form": detail.subtask_form or Form({}, {}), "editing": detail.editing,
        "saved": detail.saved, "board_card": board_card, "today": today_iso(),
        "watch": await watching.task_state(db, actor, task_id),
        "project_watch": None if htmx else await watching.project_state(db, actor,
                                                                        project["id"]),
        **await attachment_pages.detail_context(request, actor, task_id),
        "tab": "board", "nav": "projects", "live": live}, status=status,
        headers={"vary": "HX-Request"})


async def _done(request: Request, session: Session, task_id: int, anchor: str = "",
                detail: Detail | None = None) -> Response:
    """After a change: the fresh detail for htmx, a redirect to the task otherwise."""
    if is_htmx(request):
        return await _detail(request, session, task_id, detail or Detail())
    return redirect(f"/tasks/{task_id}{anchor}", request)


async def task_page(request: Request) -> Response:
    session = await require_session(request)
    detail = Detail()
    detail.saved = request.query_params.get("saved") == "1"
    return await _detail(request, session, request.path_params["task_id"], detail)


# --- the task's fields ----------------------------------------------------------------


def _read_dates(data: FormData, errors: dict[str, str]) -> dict[str, str | None]:
    """Posted dates: '' clears one; a date not given is left as it is."""
    dates: dict[str, str | None] = {}
    for name in DATES:
        raw = data.get(name)
        if not isinstance(raw, str):
            continue
        value = raw.strip()
        if not value:
            dates[name] = None
            continue
        try:
            dates[name] = datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            errors[name] = "Use a date like 2026-05-31."
    return dates


def _read_lists(data: FormData, errors: dict[str, str]) -> dict[str, list[Any]]:
    """Posted label ids and assignees; an empty value marks the list as sent."""
    lists: dict[str, list[Any]] = {}
    if "label_ids" in data:
        ids = [int_or_none(v) for v in data.getlist("label_ids") if isinstance(v, str) and v]
        if all(i is not None for i in ids):
            lists["label_ids"] = ids
        else:
            errors["label_ids"] = "Choose labels from the list."
    if "assignees" in data:
        lists["assignees"] = [v.strip() for v in data.getlist("assignees")
                              if isinstance(v, str) and v.strip()]
    return lists


def _changes(task: dict[str, Any], form: TaskUpdate, dates: dict[str, str | None],
             lists: dict[str, list[Any]]) -> tasks.TaskFields:
    """Only what differs from the task as the user saw it, so the activity says what changed."""
    fields = tasks.TaskFields()
    for name in ("title", "description", "priority", "completed", "column_id"):
        value = getattr(form, name)
        if value is not None and value != task[name]:
            setattr(fields, name, value)
    cleared = set()
    for name, value in dates.items():
        if value != task[name]:
            setattr(fields, name, value)
            if value is None:
                cleared.add(name)
    fields.cleared = frozenset(cleared)
    if "label_ids" in lists and set(lists["label_ids"]) != {
            label["id"] for label in task["labels"]}:
        fields.label_ids = lists["label_ids"]
    if "assignees" in lists and {name.lower() for name in lists["assignees"]} != {
            person["username"] for person in task["assignees"]}:
        fields.assignees = lists["assignees"]
    return fields


def _unchanged(fields: tasks.TaskFields) -> bool:
    return fields == tasks.TaskFields()


async def update_task(request: Request) -> Response:
    """Save the task form, based on the version the user saw (409 when it is stale)."""
    session = await require_session(request)
    db, task_id = request.app.state.db, request.path_params["task_id"]
    data, form = await read_form(request, TaskUpdate, fields=SCALARS,
                                 max_bytes=TEXT_FORM_MAX_BYTES)
    posted = await form_data(request, TEXT_FORM_MAX_BYTES)
    if data is not None:
        if data.title is not None:  # a text area, so that long titles wrap
            data.title = " ".join(data.title.split())
        if data.description is not None:
            data.description = data.description.replace("\r\n", "\n")
    errors = dict(form.errors)
    dates = _read_dates(posted, errors)
    lists = _read_lists(posted, errors)
    task = await tasks.get(db, session.actor, task_id)
    project = await projects.get(db, session.actor, task["project_id"])
    permissions.require_edit(project["role"], "task")
    values = _values_posted(posted)
    if data is None or errors:
        return await _detail(request, session, task_id, Detail(values, errors), status=422)
    if data.version is None:
        errors["form"] = "This form is missing the task's version; reload the task."
        return await _detail(request, session, task_id, Detail(values, errors), status=422)
    if data.version != task["version"]:
        return await _conflict(request, session, task_id, values)
    fields = _changes(task, data, dates, lists)
    detail = Detail()
    if not _unchanged(fields):
        try:
            await tasks.update(db, session.actor, task_id, fields, data.version)
        except Conflict:
            return await _conflict(request, session, task_id, values)
        except Invalid as exc:
            field = exc.extra["errors"][0]["field"] if exc.extra.get("errors") else "form"
            errors[field] = _message(exc.detail)
            return await _detail(request, session, task_id, Detail(values, errors),
                                 status=422)
    detail.saved = True
    return await _done(request, session, task_id, "?saved=1", detail=detail)


async def _conflict(request: Request, session: Session, task_id: int,
                    typed: dict[str, Any]) -> Response:
    """The task changed since the user read it: show it as it is now, and what they typed."""
    detail = Detail()
    detail.conflict = {"title": typed["title"], "description": typed["description"]}
    return await _detail(request, session, task_id, detail, status=409)


async def set_completed(request: Request) -> Response:
    """Tick or untick a task (the subtask checklist); shows its parent, if it has one."""
    session = await require_session(request)
    db, task_id = request.app.state.db, request.path_params["task_id"]
    data, _ = await read_form(request, Completed)
    if data is None:
        raise Invalid("say whether the task is completed", field="completed")
    for _attempt in range(3):
        task = await tasks.get(db, session.actor, task_id)
        if task["completed"] == data.completed:
            break
        try:
            await tasks.update(db, session.actor, task_id,
                               tasks.TaskFields(completed=data.completed), task["version"])
            break
        except Conflict:
            continue  # changed meanwhile: ticking is absolute, so apply it to the new one
    return await _done(request, session, task["parent_task_id"] or task_id)


async def set_watch(request: Request) -> Response:
    """Watch or unwatch the task (any member)."""
    session = await require_session(request)
    task_id = request.path_params["task_id"]
    data, _ = await read_form(request, Watching)
    if data is None:
        raise Invalid("say whether you watch the task (watching: true or false)",
                      field="watching")
    await watching.set_task(request.app.state.db, session.actor, task_id, data.watching)
    return await _done(request, session, task_id)


# --- subtasks and deleting ------------------------------------------------------------


async def add_subtask(request: Request) -> Response:
    session = await require_session(request)
    db, task_id = request.app.state.db, request.path_params["task_id"]
    data, form = await read_form(request, TaskCreate, fields=("title",))
    task = await tasks.get(db, session.actor, task_id)
    if data is not None:
        try:
            await tasks.create(db, session.actor, task["project_id"],
                               tasks.TaskFields(title=data.title), parent_task_id=task_id)
        except Invalid as exc:
            form.error("title", _message(exc.detail))
        else:
            return await _done(request, session, task_id, "#subtasks")
    detail = Detail()
    detail.subtask_form = form
    return await _detail(request, session, task_id, detail, status=422)


async def delete_task(request: Request) -> Response:
    """Delete a task: back to its parent's detail, or to the board."""
    session = await require_session(request)
    db, task_id = request.app.state.db, request.path_params["task_id"]
    await read_form(request, Nothing)
    task = await tasks.get(db, session.actor, task_id)
    await tasks.delete(db, session.actor, task_id)
    if task["parent_task_id"] is not None:
        return await _done(request, session, task["parent_task_id"], "#subtasks")
    return redirect(f"/projects/{task['project_id']}", request)


# --- comments -------------------------------------------------------------------------


def _body(data: CommentCreate) -> str:
    return data.body.replace("\r\n", "\n")


async def add_comment(request: Request) -> Response:
    session = await require_session(request)
    db, task_id = request.app.state.db, request.path_params["task_id"]
    data, form = await read_form(request, CommentCreate, fields=("body",),
                                 max_bytes=TEXT_FORM_MAX_BYTES)
    if data is not None:
        try:
            comment = await comments.create(db, session.actor, task_id, _body(data))
        except Invalid as exc:  # e.g. a mention of someone not in the project
            form.error("body", _message(exc.detail))
        else:
            return await _done(request, session, task_id, f"#comment-{comment['id']}")
    await tasks.get(db, session.actor, task_id)  # 404 before 422 for non-members
    detail = Detail()
    detail.comment_form = form
    return await _detail(request, session, task_id, detail, status=422)


def _task_of(form: Form) -> int:
    """The task a comment form came from (to show it again afterwards)."""
    task_id = int_or_none(form.values.get("task_id", ""))
    if task_id is None:
        raise NotFound("task not found")
    return task_id


async def edit_comment(request: Request) -> Response:
    session = await require_session(request)
    db, comment_id = request.app.state.db, request.path_params["comment_id"]
    data, form = await read_form(request, CommentCreate, fields=("body",),
                                 max_bytes=TEXT_FORM_MAX_BYTES)
    if data is not None:
        try:
            comment = await comments.edit(db, session.actor, comment_id, _body(data))
        except Invalid as exc:
            form.error("body", _message(exc.detail))
        else:
            return await _done(request, session, comment["task_id"],
                               f"#comment-{comment_id}")
    detail = Detail()
    detail.editing = (comment_id, form)
    return await _detail(request, session, _task_of(form), detail, status=422)


async def delete_comment(request: Request) -> Response:
    session = await require_session(request)
    _, form = await read_form(request, TaskRef)
    task_id = _task_of(form)
    await comments.delete(request.app.state.db, session.actor,
                          request.path_params["comment_id"])
    return await _done(request, session, task_id, "#comments")
