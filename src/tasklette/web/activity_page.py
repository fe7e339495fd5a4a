"""The project's activity page: its events as sentences, by day, filtered and paged by URL.

The filter form uses the JSON API's query names (`actor`, `kind`, `before`, `limit`), so
the page's address is also a valid `GET /api/v1/projects/{id}/activity` query. Asked
with `HX-Request: true` or `fragment=1` it answers with the entries alone
(activity/_entries.html); with `after=<event id>` too, only those newer than that event,
newest first, for live updates to put on top of the list.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import MAX_ID, ActivityQuery
from tasklette.live import streams
from tasklette.services import activity, columns, members, projects, watching
from tasklette.services.permissions import Actor
from tasklette.storage.database import Database, Row
from tasklette.web.activity_text import describe
from tasklette.web.auth import require_session
from tasklette.web.board import MONTHS, is_htmx
from tasklette.web.pages import render
from tasklette.web.task_list import url

KIND_CHOICES = (("task", "Tasks"), ("comment", "Comments"), ("column", "Columns"),
                ("label", "Labels"), ("member", "Members"), ("project", "Project"),
                ("attachment", "Attachments"))
FILTERS = ("actor", "kind")
KEPT = (*FILTERS, "limit")  # what the page's links carry along

MESSAGES = {
    "actor": "Choose a person from the list.",
    "kind": "Choose a kind of change from the list.",
    "before": "This page link is not valid; start again from the newest activity.",
    "after": "Give the id of the newest event shown, or 0.",
    "limit": "Show from 1 to 200 entries per page.",
    "fragment": "Leave fragment out, or set it to 1.",
}
FIELD_NAMES = {"actor": "Person", "kind": "Kind", "before": "Page", "after": "Newer than",
               "limit": "Entries per page", "fragment": "Fragment"}
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PageQuery(ActivityQuery):
    """The API's activity query, plus the live-update fragment's `after` and `fragment`."""

    after: Annotated[int, Field(ge=0, le=MAX_ID)] | None = None
    fragment: Literal["1"] | None = None


@dataclass(frozen=True)
class Entry:
    """One event as the page shows it; `title` is the part linked to the task, if any."""

    id: int
    lead: str
    title: str
    tail: str
    task_url: str | None
    created_at: str
    when: str
    stamp: str
    day: str
    heading: str | None  # the day's name, on the first entry of each day


def _parse(iso: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def day_name(day: datetime.date, today: datetime.date) -> str:
    """`Today`, `Yesterday`, or `Monday 30 June` (with the year when it is not this one)."""
    if day == today:
        return "Today"
    if day == today - datetime.timedelta(days=1):
        return "Yesterday"
    text = f"{DAYS[day.weekday()]} {day.day} {day:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def relative(when: datetime.datetime, now: datetime.datetime) -> str:
    """`just now`, `5 minutes ago`, `3 hours ago`; older ones as `14:03 UTC` (the day
    heading says which day)."""
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'' if minutes == 1 else 's'} ago"
    if seconds < 86400:
        hours = int(seconds // 3600)
        return f"{hours} hour{'' if hours == 1 else 's'} ago"
    return f"{when:%H:%M} UTC"


def _stamp(iso: str) -> str:
    """`2026-05-31T14:03:09.123Z` as `31 May 2026, 14:03 UTC`, as the task page writes it."""
    return f"{int(iso[8:10])} {MONTHS[int(iso[5:7]) - 1]} {iso[:4]}, {iso[11:16]} UTC"


def _link_parts(event: Row, sentence: str) -> tuple[str, str, str, str | None]:
    """The sentence split around the task's quoted title, which links to the task.

    Task sentences quote only the task's title (“…”), so the first opening and the last
    closing quote bracket it even when the title holds quotes of its own. A task that
    is gone gets no link; a sentence without the title gets a link after it.
    """
    if event["task_id"] is None or not event.get("task_exists"):
        return sentence, "", "", None
    task_url = f"/tasks/{event['task_id']}"
    start, end = sentence.find("“"), sentence.rfind("”")
    if start < 0 or end < start:
        return sentence, "", "", task_url
    return sentence[:start], sentence[start:end + 1], sentence[end + 1:], task_url


def entries_of(rows: list[Row], column_names: Mapping[int, str], names: Mapping[str, str],
               now: datetime.datetime, shown_day: str | None = None) -> list[Entry]:
    """The events (newest first) as entries; `shown_day` is the day already headed above."""
    today = now.date()
    entries = []
    previous_day = shown_day
    for event in rows:
        created = _parse(event["created_at"])
        day = created.date().isoformat()
        lead, title, tail, task_url = _link_parts(
            event, describe(event, column_names, names))
        entries.append(Entry(
            id=event["id"], lead=lead, title=title, tail=tail, task_url=task_url,
            created_at=event["created_at"], when=relative(created, now),
            stamp=_stamp(event["created_at"]), day=day,
            heading=day_name(created.date(), today) if day != previous_day else None))
        previous_day = day
    return entries


def _validate(raw: dict[str, str], errors: dict[str, str]) -> PageQuery | None:
    try:
        return PageQuery.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else "form"
            errors.setdefault(field, MESSAGES.get(field, error["msg"]))
        return None


async def _rows(db: Database, actor: Actor, project_id: int, query: PageQuery,
                fragment: bool) -> tuple[list[Row], int | None, str | None]:
    """The events to show, the id to continue before, and the day headed above them.

    For a fragment with `after`, that day is the one of the newest event the page
    already shows (the newest at or before `after` that passes the filters), so the
    entries put on top of it do not head that day a second time.
    """
    by, kinds = query.actor, (query.kind,) if query.kind else ()
    if query.after is None:
        rows, next_before = await activity.for_project(db, actor, project_id, query.before,
                                                       query.limit, by=by, kinds=kinds)
        return rows, next_before, None
    rows = await activity.newer_for_project(db, actor, project_id, query.after, query.limit,
                                            by=by, kinds=kinds)
    shown_day = None
    if fragment and rows and query.after > 0:
        shown, _ = await activity.for_project(db, actor, project_id, query.after + 1, 1,
                                              by=by, kinds=kinds)
        shown_day = _parse(shown[0]["created_at"]).date().isoformat() if shown else None
    return rows, None, shown_day


async def activity_page(request: Request) -> Response:
    """The activity page (GET), or only its entries for htmx and live updates."""
    session = await require_session(request)
    async with request.app.state.db.reading():  # the page's many reads see one snapshot
        return await _activity_in_snapshot(request, session.actor)


async def _activity_in_snapshot(request: Request, actor: Actor) -> Response:
    db = request.app.state.db
    project_id = request.path_params["project_id"]
    fragment = is_htmx(request) or request.query_params.get("fragment") == "1"
    live = None if fragment else await streams.page_start(db, actor, project_id)
    project = await projects.get(db, actor, project_id)

    # As on the list view: empty fields mean "not set", unknown names are ignored.
    raw = {key: value for key, value in request.query_params.items()
           if key in PageQuery.model_fields and value.strip()}
    errors: dict[str, str] = {}
    query = _validate(raw, errors)
    if fragment and query is None:
        message = " ".join(errors.values())
        return Response(message, status_code=422, media_type="text/plain",
                        headers={"hx-reswap": "none", "vary": "HX-Request"})

    rows: list[Row] = []
    next_before = shown_day = None
    if query is not None:
        rows, next_before, shown_day = await _rows(db, actor, project_id, query, fragment)
    people = await members.list_for_project(db, actor, project_id)
    column_names = {column["id"]: column["name"]
                    for column in await columns.list_for_project(db, actor, project_id)}
    names = {person["username"]: person["display_name"] or person["username"]
             for person in people}
    entries = entries_of(rows, column_names, names, datetime.datetime.now(datetime.UTC),
                         shown_day)
    if fragment:
        return render(request, "activity/_entries.html", {"entries": entries},
                      headers={"vary": "HX-Request"})

    path = f"/projects/{project_id}/activity"
    kept = {key: raw[key] for key in KEPT if key in raw}
    context: dict[str, Any] = {
        "project": project, "tab": "activity", "nav": "projects", "live": live,
        "project_watch": await watching.project_state(db, actor, project_id),
        "entries": entries, "members": people, "kind_choices": KIND_CHOICES,
        "values": raw, "errors": errors,
        "error_list": [(FIELD_NAMES.get(k, k), v) for k, v in errors.items()],
        "filtered": any(key in raw for key in FILTERS),
        # Only the newest page may take live entries on top (an older one would gain a gap).
        "takes_newer": query is not None and query.before is None and query.after is None,
        "latest_id": entries[0].id if entries else 0,
        "fragment_url": url(path, {**kept, "fragment": "1"}),
        "older_url": url(path, {**kept, "before": str(next_before)}) if next_before else None,
        "newest_url": url(path, kept) if "before" in raw or "after" in raw else None,
        "clear_url": url(path, {k: v for k, v in kept.items() if k == "limit"}),
    }
    return render(request, "activity/activity.html", context,
                  status=422 if errors else 200, headers={"vary": "HX-Request"})
