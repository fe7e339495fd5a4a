"""Full-text search over tasks: SQLite FTS5 or PostgreSQL tsvector, scoped by membership.

The index (`task_search`, migration 0004) is kept in step by triggers. A search runs
in two steps: rank every match the reader may see and keep one page of ids, then
mark the matching words of that page only (snippets cost, so never for every match).
Matches are marked with two private-use characters, MARK_START and MARK_END, which
the service turns into offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row

MARK_START, MARK_END = "\ue000", "\ue001"
SNIPPET_WORDS = 20
# bm25 weights of title, description and comments: a word in the title counts most.
_BM25 = "bm25(task_search, 10.0, 4.0, 2.0)"
_PG_HEADLINE = (f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, "
                "MinWords=8, ShortWord=2, MaxFragments=1, FragmentDelimiter=\" … \"")
_PG_WHOLE = f"HighlightAll=TRUE, StartSel={MARK_START}, StopSel={MARK_END}"


@dataclass
class SearchFilter:
    """What a search asks for, with names already resolved to ids where needed."""

    terms: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    project_id: int | None = None
    labels: list[str] = field(default_factory=list)  # lower-case names: all must be on it
    assignee_ids: list[int] = field(default_factory=list)  # all must be assigned
    priorities: list[int] = field(default_factory=list)  # any of them
    due: list[tuple[str, str]] = field(default_factory=list)  # (op, day): all must hold
    completed: bool | None = None
    columns: list[str] = field(default_factory=list)  # lower-case names: any of them
    today: str = ""


def _fts5_query(terms: list[tuple[str, str]]) -> str:
    """An FTS5 MATCH expression: every term quoted, so nothing in it is syntax."""
    parts = []
    for kind, text in terms:
        quoted = '"' + text.replace('"', '""') + '"'
        parts.append(quoted + "*" if kind == "prefix" else quoted)
    return " AND ".join(parts)


def _tsquery(terms: list[tuple[str, str]]) -> tuple[str, list[Any]]:
    """A PostgreSQL tsquery expression and its parameters, all terms ANDed."""
    parts, params = [], []
    for kind, text in terms:
        if kind == "phrase":
            parts.append("phraseto_tsquery('english', ?)")
            params.append(text)
        elif kind == "prefix":
            # The parser allows only letters and digits before a `*`: no tsquery syntax.
            parts.append("to_tsquery('english', ?)")
            params.append(f"{text}:*")
        else:
            parts.append("plainto_tsquery('english', ?)")
            params.append(text)
    return "(" + " && ".join(parts) + ")", params


def _narrowing(flt: SearchFilter) -> tuple[list[str], list[Any], bool]:
    """WHERE conditions on `t` (and `c` when the third value is true) for the filters."""
    where: list[str] = []
    params: list[Any] = []
    if flt.project_id is not None:
        where.append("t.project_id = ?")
        params.append(flt.project_id)
    for name in flt.labels:
        where.append("EXISTS (SELECT 1 FROM task_labels tl JOIN labels l ON l.id = tl.label_id "
                     "WHERE tl.task_id = t.id AND LOWER(l.name) = ?)")
        params.append(name)
    for user_id in flt.assignee_ids:
        where.append("EXISTS (SELECT 1 FROM task_assignees ta WHERE ta.task_id = t.id "
                     "AND ta.user_id = ?)")
        params.append(user_id)
    if flt.priorities:
        where.append(f"t.priority IN ({dialect.placeholders(len(flt.priorities))})")
        params.extend(flt.priorities)
    for op, day in flt.due:
        if op == "overdue":
            where.append("t.due_date < ? AND t.completed = 0")
            params.append(flt.today)
        elif op == "today":
            where.append("t.due_date = ?")
            params.append(flt.today)
        elif op == "none":
            where.append("t.due_date IS NULL")
        else:
            where.append(f"t.due_date {op} ?")
            params.append(day)
    if flt.completed is not None:
        where.append("t.completed = ?")
        params.append(int(flt.completed))
    if flt.columns:
        where.append(f"LOWER(c.name) IN ({dialect.placeholders(len(flt.columns))})")
        params.extend(flt.columns)
    return where, params, bool(flt.columns)


async def ranked_ids(conn: Conn, user_id: int, flt: SearchFilter, limit: int,
                     offset: int) -> list[int]:
    """Ids of the best matches the user may read, best first (limit + 1 to tell if more)."""
    where, params, with_column = _narrowing(flt)
    join_column = " JOIN columns c ON c.id = t.column_id" if with_column else ""
    members = "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ?"
    if not flt.terms:
        sql = (f"SELECT t.id FROM tasks t {members}{join_column}"
               f"{' WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY t.updated_at DESC, t.id DESC LIMIT ? OFFSET ?")
        args: list[Any] = [user_id, *params, limit, offset]
    elif conn.dialect == "postgresql":
        expr, query_params = _tsquery(flt.terms)
        # The words first, through the GIN index, then the filters on what matched: left
        # to itself the planner may start from a filter (a label on thousands of tasks)
        # and test each task's document (measured: 40 ms instead of 14).
        sql = (f"WITH q AS (SELECT {expr} AS query), hits AS MATERIALIZED ("
               "SELECT s.task_id, ts_rank(s.document, q.query) AS score "
               "FROM q CROSS JOIN task_search s WHERE s.document @@ q.query) "
               f"SELECT t.id FROM hits h JOIN tasks t ON t.id = h.task_id {members}"
               f"{join_column}{' WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY h.score DESC, t.id LIMIT ? OFFSET ?")
        args = [*query_params, user_id, *params, limit, offset]
    else:
        sql = (f"SELECT t.id FROM task_search f JOIN tasks t ON t.id = f.rowid "
               f"{members}{join_column} "
               f"WHERE {' AND '.join(['task_search MATCH ?', *where])} "
               f"ORDER BY {_BM25}, t.id LIMIT ? OFFSET ?")
        args = [user_id, _fts5_query(flt.terms), *params, limit, offset]
    return [int(task_id) for (task_id,) in await conn.fetchtuples(sql, args)]


async def marked(conn: Conn, terms: list[tuple[str, str]], ids: list[int]) -> dict[int, Row]:
    """For each task id: its title, description snippet and comments snippet, with the
    matching words between MARK_START and MARK_END."""
    if not ids or not terms:
        return {}
    marks = dialect.placeholders(len(ids))
    if conn.dialect == "postgresql":
        expr, query_params = _tsquery(terms)
        rows = await conn.fetchall(
            f"WITH q AS (SELECT {expr} AS query) "
            "SELECT s.task_id AS id, ts_headline('english', t.title, q.query, ?) AS title, "
            "ts_headline('english', t.description, q.query, ?) AS description, "
            "ts_headline('english', s.comments, q.query, ?) AS comments "
            "FROM q CROSS JOIN task_search s JOIN tasks t ON t.id = s.task_id "
            f"WHERE s.task_id IN ({marks})",
            [*query_params, _PG_WHOLE, _PG_HEADLINE, _PG_HEADLINE, *ids])
    else:
        snippet = f"?, ?, '…', {SNIPPET_WORDS}"
        rows = await conn.fetchall(
            "SELECT rowid AS id, highlight(task_search, 0, ?, ?) AS title, "
            f"snippet(task_search, 1, {snippet}) AS description, "
            f"snippet(task_search, 2, {snippet}) AS comments "
            f"FROM task_search WHERE task_search MATCH ? AND rowid IN ({marks})",
            [MARK_START, MARK_END] * 3 + [_fts5_query(terms), *ids])
    return {int(row["id"]): row for row in rows}


async def task_rows(conn: Conn, ids: list[int]) -> list[Row]:
    """The tasks of a result page, in the order of `ids`, with project and column names."""
    if not ids:
        return []
    rows = await conn.fetchall(
        "SELECT t.id, t.project_id, p.name AS project_name, t.column_id, "
        "c.name AS column_name, t.parent_task_id, parent.title AS parent_title, t.title, "
        "t.description, t.priority, t.due_date, t.completed, t.updated_at "
        "FROM tasks t JOIN projects p ON p.id = t.project_id "
        "LEFT JOIN columns c ON c.id = t.column_id "
        "LEFT JOIN tasks parent ON parent.id = t.parent_task_id "
        f"WHERE t.id IN ({dialect.placeholders(len(ids))})", ids)
    by_id = {row["id"]: row for row in rows}
    return [by_id[task_id] for task_id in ids if task_id in by_id]
