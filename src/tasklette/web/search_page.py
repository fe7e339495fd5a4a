"""The search page: ranked results across my projects (or one), matches highlighted."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response

from tasklette.numbers import int_or_none
from tasklette.services import projects, search
from tasklette.services.query_syntax import QuerySyntaxError
from tasklette.web.auth import require_session
from tasklette.web.pages import render
from tasklette.web.task_list import day_label

PAGE = 20
FIELD_NAMES = {"description": "Description", "comments": "Comments"}


def marked(text: str, spans: list[list[int]]) -> Markup:
    """`text` escaped, with each [start, end) span in a <mark>."""
    parts: list[str] = []
    at = 0
    for start, end in spans:
        if start < at:
            continue
        parts += [str(escape(text[at:start])), "<mark>", str(escape(text[start:end])),
                  "</mark>"]
        at = end
    parts.append(str(escape(text[at:])))
    return Markup("".join(parts))


def _hit(item: dict[str, Any]) -> dict[str, Any]:
    snippet = item["snippet"]
    return {**item, "title_html": marked(item["title"], item["title_highlights"]),
            "snippet_html": marked(snippet["text"], snippet["highlights"]),
            "snippet_field": FIELD_NAMES.get(snippet["field"] or "", "")
            if snippet["highlights"] else "",
            "due_label": day_label(item["due_date"]) if item["due_date"] else ""}


def _int(raw: str | None, default: int, high: int) -> int | None:
    """The parameter as a number up to `high`; `default` when absent, None when not a number."""
    if not raw:
        return default
    value = int_or_none(raw)
    return None if value is None else min(value, high)


async def search_page(request: Request) -> Response:
    """GET /search?q=…&project=…: the form, and the results when there is a query."""
    session = await require_session(request)
    db, actor = request.app.state.db, session.actor
    q = request.query_params.get("q", "").strip()
    mine = await projects.list_mine(db, actor)
    error, hits, next_url, status, ignored = "", [], None, 200, []
    wanted = _int(request.query_params.get("project"), 0, 2**62)
    offset = _int(request.query_params.get("offset"), 0, 10_000)
    if wanted is None or offset is None:
        name = "project" if wanted is None else "offset"
        error, status = f"The {name} in the address must be a whole number.", 400
    # Not one of mine: search them all rather than reveal anything.
    project_id = wanted if wanted in {p["id"] for p in mine} else None
    if q and offset is not None and not error:
        try:
            found = await search.search(db, actor, q, project_id, PAGE, offset)
        except QuerySyntaxError as exc:
            error, status = exc.detail[:1].upper() + exc.detail[1:] + ".", 400
        else:
            hits = [_hit(item) for item in found["items"]]
            ignored = found["ignored"]
            if found["next_offset"] is not None:
                params = {"q": q, "offset": str(found["next_offset"])}
                if project_id:
                    params["project"] = str(project_id)
                next_url = "/search?" + urlencode(params)
    return render(request, "search/search.html", {
        "q": q, "hits": hits, "error": error, "projects": mine, "project_id": project_id,
        "offset": offset, "next_url": next_url, "ignored": ignored, "nav": "search"},
        status=status)
