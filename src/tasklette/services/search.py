"""Search: ranked full-text results across my projects (or one), with highlighted snippets."""

from __future__ import annotations

import datetime
from typing import Any

from tasklette.services import permissions, query_syntax
from tasklette.services.permissions import Actor
from tasklette.storage import projects, task_hydration, users
from tasklette.storage import search as store
from tasklette.storage.database import Conn, Database, Row
from tasklette.storage.tasks import PRIORITIES

PLAIN_SNIPPET = 200  # characters of the description shown when no words were searched


def _spans(marked: str) -> list[list[int]]:
    """[start, end) offsets, in the text without marks, of what the marks enclose."""
    spans, position, opened = [], 0, None
    for char in marked:
        if char == store.MARK_START:
            opened = position
        elif char == store.MARK_END:
            if opened is not None and position > opened:
                spans.append([opened, position])
            opened = None
        else:
            position += 1
    return spans


def _plain(marked: str) -> str:
    return marked.replace(store.MARK_START, "").replace(store.MARK_END, "")


def _snippet(row: Row, marks: Row | None) -> dict[str, Any]:
    """The best place the words matched: the description, else the comments."""
    if marks is not None:
        for name in ("description", "comments"):
            text = marks[name] or ""
            if store.MARK_START in text:
                return {"field": name, "text": _plain(text), "highlights": _spans(text)}
    description = " ".join(row["description"].split())
    if len(description) > PLAIN_SNIPPET:
        description = description[:PLAIN_SNIPPET].rstrip() + "…"
    return {"field": "description" if description else None, "text": description,
            "highlights": []}


async def _filter(conn: Conn, actor: Actor, parsed: query_syntax.ParsedQuery,
                  project_id: int | None) -> store.SearchFilter | None:
    """The storage filter for a parsed query; None when it can match nothing."""
    assignee_ids = []
    for name in parsed.assignees:
        if name == "me":
            assignee_ids.append(actor.id)
            continue
        user = await users.by_username(conn, name)
        if user is None:
            return None  # nobody of that name: nothing is assigned to them
        assignee_ids.append(int(user["id"]))
    return store.SearchFilter(
        terms=[(term.kind, term.text) for term in parsed.terms], project_id=project_id,
        labels=parsed.labels, assignee_ids=assignee_ids,
        priorities=sorted({PRIORITIES.index(name) for name in parsed.priorities}),
        due=parsed.due, completed=parsed.completed, columns=parsed.columns,
        today=datetime.date.today().isoformat())


async def search(db: Database, actor: Actor, text: str, project_id: int | None = None,
                 limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """A page of the tasks matching `text` in the actor's projects (or one of them).

    Returns `items` (best first), `next_offset` (None on the last page) and `ignored`,
    the words left out as too common to search for.
    """
    if project_id is not None:  # a project that is not mine: 404 whatever the query
        async with db.reading() as conn:
            permissions.require_read(await projects.role_of(conn, project_id, actor.id),
                                     "project")
    parsed = query_syntax.parse(text)
    if parsed.is_empty() and parsed.ignored:
        words = ", ".join(f"“{word}”" for word in parsed.ignored)
        raise query_syntax.QuerySyntaxError(
            f"{words} {'is' if len(parsed.ignored) == 1 else 'are'} too common to search "
            "for; add a less common word, a \"phrase\" or a filter")
    if parsed.is_empty():
        raise query_syntax.QuerySyntaxError(
            "type words to search for, or a filter such as label:bug or is:open")
    async with db.reading() as conn:
        if project_id is not None:
            permissions.require_read(await projects.role_of(conn, project_id, actor.id),
                                     "project")
        flt = await _filter(conn, actor, parsed, project_id)
        if flt is None:
            return {"items": [], "next_offset": None, "ignored": parsed.ignored}
        ids = await store.ranked_ids(conn, actor.id, flt, limit + 1, offset)
        more = len(ids) > limit
        ids = ids[:limit]
        marks = await store.marked(conn, flt.terms, ids)
        rows = await store.task_rows(conn, ids)
        await task_hydration.hydrate(conn, rows)
    items = []
    for row in rows:
        found = marks.get(row["id"])
        title_marked = found["title"] if found else row["title"]
        items.append({
            "id": row["id"], "project_id": row["project_id"],
            "project_name": row["project_name"], "column_id": row["column_id"],
            "column_name": row["column_name"], "parent_task_id": row["parent_task_id"],
            "parent_title": row["parent_title"], "title": row["title"],
            "title_highlights": _spans(title_marked or ""),
            "snippet": _snippet(row, found),
            "priority": PRIORITIES[row["priority"]], "due_date": row["due_date"],
            "completed": bool(row["completed"]), "updated_at": row["updated_at"],
            "labels": row["labels"], "assignees": row["assignees"],
            "comment_count": row["comment_count"],
        })
    return {"items": items, "next_offset": offset + limit if more else None,
            "ignored": parsed.ignored}

