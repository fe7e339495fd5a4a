"""My tasks: everything assigned to me across my projects, grouped by when it is due."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from tasklette.services import tasks
from tasklette.storage.database import Row
from tasklette.web.auth import require_session
from tasklette.web.pages import render
from tasklette.web.task_list import day_label

WEEK = 6  # "this week": the six days after today


@dataclass
class Group:
    key: str
    title: str
    hint: str = ""
    tasks: list[Row] = field(default_factory=list)


def group_of(task: Row, today: datetime.date) -> str:
    """Which group a task falls in, by its due date compared with `today`."""
    if not task["due_date"]:
        return "none"
    due = datetime.date.fromisoformat(task["due_date"])
    if due < today:
        return "earlier" if task["completed"] else "overdue"
    if due == today:
        return "today"
    if due <= today + datetime.timedelta(days=WEEK):
        return "week"
    return "later"


def groups_for(rows: list[Row], today: datetime.date) -> list[Group]:
    """The non-empty groups, soonest first, each keeping the service's order."""
    tomorrow = today + datetime.timedelta(days=1)
    week_end = today + datetime.timedelta(days=WEEK)
    groups = [
        Group("overdue", "Overdue"),
        Group("today", "Today", day_label(today.isoformat(), today)),
        Group("week", "This week", f"{day_label(tomorrow.isoformat(), today)} to "
                                   f"{day_label(week_end.isoformat(), today)}"),
        Group("later", "Later"),
        Group("none", "No due date"),
        Group("earlier", "Done, due earlier"),
    ]
    by_key = {group.key: group for group in groups}
    for row in rows:
        key = group_of(row, today)
        by_key[key].tasks.append({**row, "due_label": day_label(row["due_date"], today)
                                  if row["due_date"] else ""})
    return [group for group in groups if group.tasks]


async def my_tasks_page(request: Request) -> Response:
    session = await require_session(request)
    include_done = request.query_params.get("done") == "1"
    rows = await tasks.assigned_to_me(request.app.state.db, session.actor,
                                      include_completed=include_done)
    today = datetime.date.today()
    return render(request, "my_tasks/my_tasks.html", {
        "nav": "my-tasks", "groups": groups_for(rows, today), "count": len(rows),
        "include_done": include_done}, status=200)
