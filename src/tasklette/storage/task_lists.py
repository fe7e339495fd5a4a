"""Lists of tasks: filtered, sorted pages with cursors, a board, a user's assignments."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

from tasklette.storage import dialect
from tasklette.storage import task_hydration as hydration
from tasklette.storage.database import Conn, Row
from tasklette.storage.task_hydration import hydrate, hydrate_project
from tasklette.storage.task_order import Scope, set_positions
from tasklette.storage.tasks import FIELDS, shape


async def for_board(conn: Conn, project_id: int) -> list[Row]:
    """Every top-level task of a project in board order, with labels, assignees, counts.

    Cards do not show descriptions, so they are not read: `description` is "".
    """
    fields = FIELDS.replace("t.description", "'' AS description")
    rows = await conn.fetchall(
        f"SELECT {fields} FROM tasks t JOIN columns c ON c.id = t.column_id "
        "WHERE t.project_id = ? ORDER BY c.position, t.rank", (project_id,))
    column, position = None, 0
    for row in rows:
        if row["column_id"] != column:
            column, position = row["column_id"], 0
        row["position"] = position
        position += 1
        shape(row)
    return await hydrate_project(conn, project_id, rows)


async def assigned_to(conn: Conn, user_id: int, include_completed: bool) -> list[Row]:
    """Tasks assigned to the user in projects they belong to, soonest due first."""
    done = "" if include_completed else " AND t.completed = 0"
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, NULL AS position, p.name AS project_name, c.name AS column_name, "
        "parent.title AS parent_title FROM task_assignees ta "
        "JOIN tasks t ON t.id = ta.task_id "
        "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ta.user_id "
        "JOIN projects p ON p.id = t.project_id "
        "LEFT JOIN columns c ON c.id = t.column_id "
        "LEFT JOIN tasks parent ON parent.id = t.parent_task_id "
        f"WHERE ta.user_id = ?{done} "
        "ORDER BY COALESCE(t.due_date, '9999-12-31'), t.priority DESC, t.id LIMIT 1000",
        (user_id,))
    await set_positions(conn, rows, contiguous=False)
    for row in rows:
        shape(row)
    return await hydrate(conn, rows)


@dataclass
class TaskFilter:
    """What a task list asks for; every field narrows the list."""

    column_id: int | None = None
    label_id: int | None = None
    assignee_id: int | None = None
    priorities: list[int] = field(default_factory=list)
    due_before: str | None = None
    due_after: str | None = None
    completed: bool | None = None
    text: str | None = None
    parent: int | str | None = None  # None: top-level only; "any": all; an id: its subtasks


# A cursor carries the last row's sort keys, so every key must stay short: titles sort
# by their first TITLE_KEY characters (ties by id), which keeps a cursor under 600
# characters even for 500 characters of emoji, where the whole title made one of 2,700.
TITLE_KEY = 64
SORTS: dict[str, list[str]] = {
    "position": ["COALESCE(c.position, -1)", "t.rank"],
    "created": [],
    "updated": ["t.updated_at"],
    "due": ["COALESCE(t.due_date, '9999-12-31')"],
    "priority": ["t.priority"],
    "title": [f"SUBSTR(LOWER(t.title), 1, {TITLE_KEY})"],
}


class CursorError(ValueError):
    """A pagination cursor that this list did not hand out."""


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise CursorError("the cursor is not one this list handed out") from None
    if (not isinstance(values, list) or len(values) != width
            or not all((isinstance(v, str) and len(v) <= 1000)
                       or (type(v) is int and -(2**63) <= v < 2**63) for v in values)):
        raise CursorError("the cursor is not one this list handed out")
    return values


async def list_page(conn: Conn, project_id: int, flt: TaskFilter, sort: str, descending: bool,
                    cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
    """One page of the project's tasks and the cursor of the next page (None at the end)."""
    where = ["t.project_id = ?"]
    params: list[Any] = [project_id]
    if flt.parent is None:
        where.append("t.parent_task_id IS NULL")
    elif flt.parent != "any":
        where.append("t.parent_task_id = ?")
        params.append(flt.parent)
    if flt.column_id is not None:
        where.append("t.column_id = ?")
        params.append(flt.column_id)
    if flt.label_id is not None:
        where.append("EXISTS (SELECT 1 FROM task_labels tl WHERE tl.task_id = t.id "
                     "AND tl.label_id = ?)")
        params.append(flt.label_id)
    if flt.assignee_id is not None:
        where.append("EXISTS (SELECT 1 FROM task_assignees ta WHERE ta.task_id = t.id "
                     "AND ta.user_id = ?)")
        params.append(flt.assignee_id)
    if flt.priorities:
        where.append(f"t.priority IN ({dialect.placeholders(len(flt.priorities))})")
        params.extend(flt.priorities)
    if flt.due_before is not None:
        where.append("t.due_date < ?")
        params.append(flt.due_before)
    if flt.due_after is not None:
        where.append("t.due_date > ?")
        params.append(flt.due_after)
    if flt.completed is not None:
        where.append("t.completed = ?")
        params.append(int(flt.completed))
    if flt.text:
        pattern = dialect.like_pattern(flt.text)
        where.append(f"({dialect.contains_ci(conn.dialect, 't.title')} OR "
                     f"{dialect.contains_ci(conn.dialect, 't.description')})")
        params.extend([pattern, pattern])

    keys = [*SORTS[sort], "t.id"]
    key_select = ", ".join(f"{expr} AS k{i}" for i, expr in enumerate(keys))
    direction = " DESC" if descending else ""
    order = ", ".join(f"{expr}{direction}" for expr in keys)
    board_order = sort == "position" and flt.parent is None
    if board_order:
        # Board order straight from the indexes, columns by position, then each column's
        # tasks by rank: the first page reads its own rows, not the whole project sorted
        # (CROSS JOIN keeps SQLite's loops in that order; positions are distinct in a
        # project, so c.id only tells the planner so).
        source = "columns c CROSS JOIN tasks t"
        where[:0] = ["t.column_id = c.id", "c.project_id = ?"]
        params.insert(0, project_id)
        order = ", ".join(f"{expr}{direction}" for expr in
                          ("c.position", "c.id", "t.rank", "t.id"))
    else:
        # Top-level tasks always have a column: an inner join lets the board order come
        # straight from the column and rank indexes.
        join = "JOIN" if flt.parent is None else "LEFT JOIN"
        source = f"tasks t {join} columns c ON c.id = t.column_id"
    if cursor is not None:
        after = _decode_cursor(cursor, len(keys))
        row_value = "(" + ", ".join(keys) + ")"
        where.append(f"{row_value} {'<' if descending else '>'} "
                     f"({dialect.placeholders(len(keys))})")
        params.extend(after)
        if board_order:  # where the page starts, for the columns' index
            where.append(f"c.position {'<=' if descending else '>='} ?")
            params.append(after[0])
    params.append(limit + 1)
    hydrated = f"NULL AS position, {hydration.columns(conn.dialect)}"
    if board_order:
        # Rows come in order from the indexes: only those of the page are hydrated.
        sql = (f"SELECT {FIELDS}, {hydrated}, {key_select} FROM {source} "
               f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?")
    else:
        # The page is chosen first, then only its rows are hydrated (the hydration
        # columns of a sorted query would be computed for every row before the sort).
        sql = (f"SELECT t.*, {hydrated} FROM (SELECT {FIELDS}, {key_select} FROM {source} "
               f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?) t "
               f"ORDER BY {', '.join(f'k{i}{direction}' for i in range(len(keys)))}")
    rows = await conn.fetchall(sql, params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor([rows[-1][f"k{i}"] for i in range(len(keys))])
    for row in rows:
        for i in range(len(keys)):
            del row[f"k{i}"]
    narrowed = (flt.label_id, flt.assignee_id, flt.due_before, flt.due_after, flt.completed,
                flt.text)
    contiguous = (sort == "position" and flt.parent != "any" and not flt.priorities
                  and all(value is None or value == "" for value in narrowed))
    # A contiguous page holds each of its lists from the list's first task on, except
    # perhaps the one it starts in after a cursor (ascending) or ends in before the
    # next page (descending).
    lists = list(dict.fromkeys((row["column_id"], row["parent_task_id"]) for row in rows))
    cut = (lists[-1:] if next_cursor else []) if descending else (lists[:1] if cursor else [])
    await set_positions(conn, rows, contiguous,
                        {Scope(*key) for key in lists if key not in cut})
    for row in rows:
        hydration.finish(shape(row))
    return rows, next_cursor
