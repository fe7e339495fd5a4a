"""The list view of a project: its tasks in a table, filtered, sorted and paged by the URL.

The filter form uses the JSON API's query names (`q`, `label`, `assignee`, ...), so a
list view's address is also a valid `GET /api/v1/projects/{id}/tasks` query and can be
bookmarked or shared as it is.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import TaskListQuery
from tasklette.api.tasks import list_query
from tasklette.live import streams
from tasklette.services import columns, labels, members, projects, tasks
from tasklette.services.errors import Invalid
from tasklette.services.permissions import Actor
from tasklette.services.tasks import ListQuery
from tasklette.storage.database import Database, Row
from tasklette.web import saved_views
from tasklette.web.auth import require_session
from tasklette.web.pages import render

# Query names that narrow the list (as opposed to ordering or paging it).
FILTERS = ("q", "column", "label", "assignee", "priority", "due_before", "due_after",
           "completed", "parent")
KEPT = (*FILTERS, "sort", "limit")  # what every link of the page carries along

SORT_CHOICES = (
    ("", "Board order"), ("title", "Title, A to Z"), ("-title", "Title, Z to A"),
    ("due", "Due soonest"), ("-due", "Due latest"),
    ("-priority", "Priority, high first"), ("priority", "Priority, low first"),
    ("-updated", "Recently updated"), ("updated", "Least recently updated"),
    ("-created", "Newest"), ("created", "Oldest"), ("-position", "Board order, reversed"),
)
PRIORITY_CHOICES = (("urgent", "Urgent"), ("high", "High"), ("medium", "Medium"),
                    ("low", "Low"), ("none", "No priority"))

# Messages a person can act on, in place of the validator's wording.
MESSAGES = {
    "q": "Search for at most 200 characters.",
    "column": "Choose a column from the list.",
    "label": "Choose a label from the list.",
    "assignee": "Choose a person from the list.",
    "priority": "Choose a priority from the list.",
    "due_before": "Write a date as YYYY-MM-DD, e.g. 2025-06-30.",
    "due_after": "Write a date as YYYY-MM-DD, e.g. 2025-06-30.",
    "completed": "Choose any, open or done.",
    "parent": "Choose top-level tasks, or tasks and subtasks.",
    "sort": "Choose an order from the list.",
    "limit": "Show from 1 to 200 tasks per page.",
    "cursor": "This page link is no longer valid; start again from the first page.",
}
FIELD_NAMES = {"q": "Search", "column": "Column", "label": "Label", "assignee": "Assignee",
               "priority": "Priority", "due_before": "Due before", "due_after": "Due after",
               "completed": "Status", "parent": "Subtasks", "sort": "Sort",
               "limit": "Tasks per page", "cursor": "Page"}


@dataclass(frozen=True)
class Header:
    """A column heading of the table; sortable ones link to the other direction."""

    title: str
    sort_key: str | None = None
    first: str = ""  # the sort a first click asks for
    href: str = ""
    aria_sort: str | None = None


def url(path: str, params: dict[str, str]) -> str:
    """`path` with `params` as its query string (none when empty)."""
    return f"{path}?{urlencode(params)}" if params else path


def _sort_headers(path: str, kept: dict[str, str], current: str) -> list[Header]:
    plain = [Header("Title", "title", "title"), Header("Column", "position", "position"),
             Header("Labels"), Header("Assignees"),
             Header("Priority", "priority", "-priority"), Header("Due", "due", "due"),
             Header("Status")]
    headers = []
    for header in plain:
        if header.sort_key is None:
            headers.append(header)
            continue
        aria = None
        wanted = header.first
        if current.lstrip("-") == header.sort_key:
            descending = current.startswith("-")
            aria = "descending" if descending else "ascending"
            wanted = header.sort_key if descending else f"-{header.sort_key}"
        params = {k: v for k, v in kept.items() if k != "sort"}
        if wanted != "position":
            params["sort"] = wanted
        headers.append(Header(header.title, header.sort_key, header.first,
                              url(path, params), aria))
    return headers


def _validate(raw: dict[str, str], errors: dict[str, str]) -> TaskListQuery | None:
    try:
        return TaskListQuery.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else "form"
            errors.setdefault(field, MESSAGES.get(field, error["msg"]))
        return None


def _row(task: Row, column_names: dict[int, str], today: str) -> Row:
    due = task["due_date"]
    return {**task, "column_name": column_names.get(task["column_id"] or 0, ""),
            "due_label": day_label(due) if due else "",
            "overdue": bool(due and due < today and not task["completed"])}


def day_label(iso_day: str, today: datetime.date | None = None) -> str:
    """A short, readable day: `Mon 30 Jun`, with the year when it is not this one."""
    day = datetime.date.fromisoformat(iso_day)
    today = today or datetime.date.today()
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


async def _fetch(db: Database, actor: Actor, project_id: int, query: ListQuery,
                 errors: dict[str, str]) -> tuple[list[Row], str | None]:
    """One page of tasks, as the API's task list builds it; a bad cursor goes to `errors`."""
    try:
        return await tasks.list_page(db, actor, project_id, query)
    except Invalid as exc:
        field = (exc.extra.get("errors") or [{}])[0].get("field") or "form"
        errors[field] = MESSAGES.get(field, exc.detail)
        return [], None


async def list_page(request: Request) -> Response:
    """The list view (GET): the filter form, a page of tasks, links to sort and page on."""
    session = await require_session(request)
    async with request.app.state.db.reading():  # the page's many reads see one snapshot
        return await _list_in_snapshot(request, session.actor)


async def _list_in_snapshot(request: Request, actor: Actor) -> Response:
    db = request.app.state.db
    project_id = request.path_params["project_id"]
    live = await streams.page_start(db, actor, project_id)
    project = await projects.get(db, actor, project_id)
    column_rows = await columns.list_for_project(db, actor, project_id)
    label_rows = await labels.list_for_project(db, actor, project_id)
    member_rows = await members.list_for_project(db, actor, project_id)

    # Empty fields of the filter form mean "not set"; names the API does not know
    # (e.g. a tracking parameter on a shared link) are ignored rather than refused.
    raw = {key: value for key, value in request.query_params.items()
           if key in TaskListQuery.model_fields and value.strip()}
    errors: dict[str, str] = {}
    query = _validate(raw, errors)
    if query is not None:
        if query.label is not None and query.label not in {r["id"] for r in label_rows}:
            errors["label"] = "There is no such label in this project; choose one from the list."
        if query.column is not None and query.column not in {r["id"] for r in column_rows}:
            errors["column"] = "There is no such column in this project; choose one from " \
                               "the list."
    wanted = None
    if query is not None:
        try:
            wanted = list_query(query)
        except Invalid as exc:
            errors["priority"] = exc.detail[:1].upper() + exc.detail[1:] + "."

    items: list[Row] = []
    next_cursor = None
    if wanted is not None and not errors:
        items, next_cursor = await _fetch(db, actor, project_id, wanted, errors)

    path = f"/projects/{project_id}/list"
    kept = {key: raw[key] for key in KEPT if key in raw}
    today = datetime.date.today().isoformat()
    column_names = {c["id"]: c["name"] for c in column_rows}
    sort = query.sort if query else raw.get("sort", "position")
    return render(request, "list/list.html", {
        "project": project, "tab": "list", "nav": "projects", "live": live,
        **await saved_views.list_context(db, actor, project, dict(request.query_params)),
        "tasks": [_row(task, column_names, today) for task in items], "today": today,
        "values": raw, "errors": errors,
        "error_list": [(FIELD_NAMES.get(k, k), v) for k, v in errors.items()],
        "columns": column_rows, "labels": label_rows, "members": member_rows,
        "headers": _sort_headers(path, kept, sort),
        "sort_choices": SORT_CHOICES, "priority_choices": PRIORITY_CHOICES,
        "filtered": any(key in raw for key in FILTERS),
        "more_active": sum(1 for key in (*FILTERS, "sort") if key in raw and key != "q"),
        "next_url": url(path, {**kept, "cursor": next_cursor}) if next_cursor else None,
        "first_url": url(path, kept) if "cursor" in raw else None,
        "clear_url": url(path, {k: v for k, v in kept.items() if k in ("sort", "limit")}),
    }, status=422 if errors else 200)

