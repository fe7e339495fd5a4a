"""Tasks: rows, their order, their labels and assignees, and filtered pages of them.

Order: a top-level task is ranked within its column, a subtask within its parent.
Ranks are sparse integers, so placing a task between two others usually writes
one row; when two neighbours leave no gap, that one list is renumbered. The
position clients see is the 0-based index in that order, computed on read.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tasklette.clock import now_iso
from tasklette.storage import columns, dialect
from tasklette.storage.database import Conn, Row, Tx

PRIORITIES = ("none", "low", "medium", "high", "urgent")
RANK_GAP = 1024

FIELDS = ("t.id, t.project_id, t.column_id, t.parent_task_id, t.rank, t.title, t.description, "
          "t.priority, t.start_date, t.due_date, t.completed, t.completed_at, t.version, "
          "t.created_by, t.created_at, t.updated_by, t.updated_at")

POSITION = (
    "CASE WHEN t.parent_task_id IS NULL THEN (SELECT COUNT(*) FROM tasks s "
    "WHERE s.column_id = t.column_id AND s.rank < t.rank) "
    "ELSE (SELECT COUNT(*) FROM tasks s "
    "WHERE s.parent_task_id = t.parent_task_id AND s.rank < t.rank) END AS position"
)


@dataclass(frozen=True)
class Scope:
    """The list a task is ordered in: a column's top-level tasks, or a parent's subtasks."""

    column_id: int | None = None
    parent_task_id: int | None = None

    def where(self) -> tuple[str, tuple[Any, ...]]:
        if self.parent_task_id is not None:
            return "parent_task_id = ?", (self.parent_task_id,)
        # Only top-level tasks have a column, so no parent test is needed.
        return "column_id = ?", (self.column_id,)


def scope_of(task: Row) -> Scope:
    if task["parent_task_id"] is not None:
        return Scope(parent_task_id=task["parent_task_id"])
    return Scope(column_id=task["column_id"])


def _shape(row: Row) -> Row:
    row["priority"] = PRIORITIES[row["priority"]]
    row["completed"] = bool(row["completed"])
    row.pop("rank", None)
    return row


async def get_for_member(conn: Conn, task_id: int, user_id: int) -> Row | None:
    """The task with the member's role in its project; None for non-members."""
    row = await conn.fetchone(
        f"SELECT {FIELDS}, {POSITION}, m.role FROM tasks t "
        "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ? "
        "WHERE t.id = ?", (user_id, task_id))
    return None if row is None else _shape(row)


async def get(conn: Conn, task_id: int) -> Row | None:
    row = await conn.fetchone(f"SELECT {FIELDS}, {POSITION} FROM tasks t WHERE t.id = ?",
                              (task_id,))
    return None if row is None else _shape(row)


async def raw(conn: Conn, task_id: int) -> Row | None:
    """The stored row, rank included, for the writer deciding a move."""
    return await conn.fetchone(f"SELECT {FIELDS} FROM tasks t WHERE t.id = ?", (task_id,))


async def lock(tx: Tx, task_id: int) -> None:
    """Serialise writers of this task (and of its subtask list).

    SQLite already has a single writer; PostgreSQL takes a row lock.
    """
    if tx.dialect == "postgresql":
        await tx.fetchval("SELECT id FROM tasks WHERE id = ? FOR NO KEY UPDATE", (task_id,))


async def get_locked_for_member(tx: Tx, task_id: int, user_id: int,
                                target_column: int | None = None) -> Row | None:
    """The task with the member's role, locked against concurrent changes.

    On PostgreSQL the task's list (its column and `target_column`, or its parent)
    is locked before the task itself, the order every writer follows.
    """
    task = await get_for_member(tx, task_id, user_id)
    if task is None or tx.dialect != "postgresql":
        return task
    if task["parent_task_id"] is not None:
        await lock(tx, task["parent_task_id"])
    else:
        await columns.lock(tx, *{task["column_id"], target_column} - {None})
    await lock(tx, task_id)
    return await get_for_member(tx, task_id, user_id)  # what it is now that it is ours


async def in_project(conn: Conn, project_id: int, task_id: int) -> bool:
    found = await conn.fetchval("SELECT 1 FROM tasks WHERE id = ? AND project_id = ?",
                                (task_id, project_id))
    return found is not None


async def ancestors(conn: Conn, task_id: int) -> list[int]:
    """Ids of the task and every parent above it."""
    rows = await conn.fetchall(
        "WITH RECURSIVE up(id, parent) AS ("
        " SELECT id, parent_task_id FROM tasks WHERE id = ?"
        " UNION SELECT t.id, t.parent_task_id FROM tasks t JOIN up ON t.id = up.parent)"
        " SELECT id FROM up", (task_id,))
    return [int(row["id"]) for row in rows]


# --- reading many -----------------------------------------------------------------


async def _attach(conn: Conn, by_id: dict[int, Row], key: str, links_sql: str,
                  ids: list[int], lookup_sql: str, order: Callable[[Row], Any]) -> None:
    """Append to each task's `key` list the rows its (task_id, other_id) links name."""
    links = await conn.fetchtuples(links_sql, ids)
    if not links:
        return
    others = list({other for _, other in links})
    found = {row["id"]: row for row in await conn.fetchall(
        lookup_sql.format(marks=dialect.placeholders(len(others))), others)}
    for task_id, other in links:
        # Reads are snapshots; a write transaction on PostgreSQL is READ COMMITTED, so
        # a label deleted by another commit since its link was read is gone here: the
        # link went with it.
        if other in found:
            by_id[task_id][key].append(found[other])
    for task in by_id.values():
        if len(task[key]) > 1:
            task[key].sort(key=order)


async def hydrate(conn: Conn, tasks: list[Row], *, with_subtasks: bool = False) -> list[Row]:
    """Attach labels, assignees and counts to tasks (a few queries for any number)."""
    if not tasks:
        return tasks
    by_id = {task["id"]: task for task in tasks}
    for task in tasks:
        task["labels"] = []
        task["assignees"] = []
        task["comment_count"] = 0
        task["attachment_count"] = 0
        task["subtask_count"] = 0
        task["subtasks_completed"] = 0
        if with_subtasks:
            task["subtasks"] = []
    ids = list(by_id)
    marks = dialect.placeholders(len(ids))
    # Link rows come from the primary-key indexes alone; the few distinct labels and
    # users they name are fetched once each, rather than joined on every link.
    await _attach(conn, by_id, "labels",
                  f"SELECT task_id, label_id FROM task_labels WHERE task_id IN ({marks})", ids,
                  "SELECT id, name, color FROM labels WHERE id IN ({marks})",
                  lambda label: (label["name"].lower(), label["id"]))
    await _attach(conn, by_id, "assignees",
                  f"SELECT task_id, user_id FROM task_assignees WHERE task_id IN ({marks})",
                  ids, "SELECT id, username, display_name FROM users WHERE id IN ({marks})",
                  lambda user: user["username"])
    for task_id, count in await conn.fetchtuples(
            f"SELECT task_id, COUNT(*) FROM comments WHERE task_id IN ({marks}) "
            "GROUP BY task_id", ids):
        by_id[task_id]["comment_count"] = count
    for task_id, count in await conn.fetchtuples(
            f"SELECT task_id, COUNT(*) FROM attachments WHERE task_id IN ({marks}) "
            "GROUP BY task_id", ids):
        by_id[task_id]["attachment_count"] = count
    if with_subtasks:
        for row in await conn.fetchall(
                "SELECT id, parent_task_id, title, completed, due_date FROM tasks "
                f"WHERE parent_task_id IN ({marks}) ORDER BY parent_task_id, rank", ids):
            parent = by_id[row.pop("parent_task_id")]
            row["completed"] = bool(row["completed"])
            parent["subtasks"].append(row)
            parent["subtask_count"] += 1
            parent["subtasks_completed"] += row["completed"]
    else:
        for parent_id, count, done in await conn.fetchtuples(
                "SELECT parent_task_id, COUNT(*), SUM(completed) FROM tasks "
                f"WHERE parent_task_id IN ({marks}) GROUP BY parent_task_id", ids):
            by_id[parent_id]["subtask_count"] = count
            by_id[parent_id]["subtasks_completed"] = int(done or 0)
    return tasks


async def _set_positions(conn: Conn, rows: list[Row], contiguous: bool) -> None:
    """Fill in each row's 0-based place in its list (column or parent).

    `contiguous`: the rows of each list follow each other with none left out (an
    unfiltered page in board order), so one count per list places them all.
    """
    scopes: dict[Scope, list[Row]] = {}
    for row in rows:
        scopes.setdefault(scope_of(row), []).append(row)
    if contiguous:
        for scope, members in scopes.items():
            where, params = scope.where()
            members.sort(key=lambda row: row["rank"])
            before = await conn.fetchval(f"SELECT COUNT(*) FROM tasks WHERE {where} "
                                         "AND rank < ?", (*params, members[0]["rank"]))
            for i, row in enumerate(members):
                row["position"] = int(before) + i
        return
    if len(scopes) > 8:
        # Rows from many lists (e.g. subtasks of many parents): count per row instead.
        ids = [row["id"] for row in rows]
        found = {r["id"]: r["position"] for r in await conn.fetchall(
            f"SELECT t.id, {POSITION} FROM tasks t "
            f"WHERE t.id IN ({dialect.placeholders(len(ids))})", ids)}
        for row in rows:
            row["position"] = found[row["id"]]
        return
    for scope, members in scopes.items():
        where, params = scope.where()
        order = {task_id: i for i, (task_id,) in enumerate(await conn.fetchtuples(
            f"SELECT id FROM tasks WHERE {where} ORDER BY rank", params))}
        for row in members:
            row["position"] = order[row["id"]]


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
        _shape(row)
    return await hydrate_project(conn, project_id, rows)


async def hydrate_project(conn: Conn, project_id: int, tasks: list[Row]) -> list[Row]:
    """Like `hydrate`, for many tasks of one project: links are read project-wide."""
    by_id = {task["id"]: task for task in tasks}
    for task in tasks:
        task.update(labels=[], assignees=[], comment_count=0, attachment_count=0,
                    subtask_count=0, subtasks_completed=0)
    if not tasks:
        return tasks
    labels = {row["id"]: row for row in await conn.fetchall(
        "SELECT id, name, color FROM labels WHERE project_id = ?", (project_id,))}
    for task_id, label_id in await conn.fetchtuples(
            "SELECT tl.task_id, tl.label_id FROM task_labels tl JOIN tasks t ON t.id = tl.task_id "
            "WHERE t.project_id = ? AND t.parent_task_id IS NULL", (project_id,)):
        if task_id in by_id:
            by_id[task_id]["labels"].append(labels[label_id])
    people = {row["id"]: row for row in await conn.fetchall(
        "SELECT u.id, u.username, u.display_name FROM project_members m "
        "JOIN users u ON u.id = m.user_id WHERE m.project_id = ?", (project_id,))}
    for task_id, user_id in await conn.fetchtuples(
            "SELECT ta.task_id, ta.user_id FROM task_assignees ta JOIN tasks t "
            "ON t.id = ta.task_id WHERE t.project_id = ? AND t.parent_task_id IS NULL",
            (project_id,)):
        if task_id in by_id and user_id in people:
            by_id[task_id]["assignees"].append(people[user_id])
    for task_id, count in await conn.fetchtuples(
            "SELECT c.task_id, COUNT(*) FROM comments c JOIN tasks t ON t.id = c.task_id "
            "WHERE t.project_id = ? GROUP BY c.task_id", (project_id,)):
        if task_id in by_id:
            by_id[task_id]["comment_count"] = count
    for task_id, count in await conn.fetchtuples(
            "SELECT a.task_id, COUNT(*) FROM attachments a JOIN tasks t ON t.id = a.task_id "
            "WHERE t.project_id = ? GROUP BY a.task_id", (project_id,)):
        if task_id in by_id:
            by_id[task_id]["attachment_count"] = count
    for parent_id, count, done in await conn.fetchtuples(
            "SELECT parent_task_id, COUNT(*), SUM(completed) FROM tasks "
            "WHERE project_id = ? AND parent_task_id IS NOT NULL GROUP BY parent_task_id",
            (project_id,)):
        if parent_id in by_id:
            by_id[parent_id]["subtask_count"] = count
            by_id[parent_id]["subtasks_completed"] = int(done or 0)
    for task in tasks:
        if len(task["labels"]) > 1:
            task["labels"].sort(key=lambda label: (label["name"].lower(), label["id"]))
        if len(task["assignees"]) > 1:
            task["assignees"].sort(key=lambda user: user["username"])
    return tasks


async def assigned_to(conn: Conn, user_id: int, include_completed: bool) -> list[Row]:
    """Tasks assigned to the user in projects they belong to, soonest due first."""
    done = "" if include_completed else " AND t.completed = 0"
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, {POSITION}, p.name AS project_name, c.name AS column_name, "
        "parent.title AS parent_title FROM task_assignees ta "
        "JOIN tasks t ON t.id = ta.task_id "
        "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ta.user_id "
        "JOIN projects p ON p.id = t.project_id "
        "LEFT JOIN columns c ON c.id = t.column_id "
        "LEFT JOIN tasks parent ON parent.id = t.parent_task_id "
        f"WHERE ta.user_id = ?{done} "
        "ORDER BY COALESCE(t.due_date, '9999-12-31'), t.priority DESC, t.id LIMIT 1000",
        (user_id,))
    for row in rows:
        _shape(row)
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
    if cursor is not None:
        after = _decode_cursor(cursor, len(keys))
        row_value = "(" + ", ".join(keys) + ")"
        where.append(f"{row_value} {'<' if descending else '>'} "
                     f"({dialect.placeholders(len(keys))})")
        params.extend(after)
    direction = " DESC" if descending else ""
    order = ", ".join(f"{expr}{direction}" for expr in keys)
    params.append(limit + 1)
    # Top-level tasks always have a column: an inner join lets the board order come
    # straight from the column and rank indexes.
    join = "JOIN" if flt.parent is None else "LEFT JOIN"
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, {key_select} FROM tasks t {join} columns c ON c.id = t.column_id "
        f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?", params)
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
    await _set_positions(conn, rows, contiguous)
    for row in rows:
        _shape(row)
    return await hydrate(conn, rows), next_cursor


# --- writing ----------------------------------------------------------------------


async def _renumber(tx: Tx, scope: Scope, exclude_id: int | None) -> None:
    where, params = scope.where()
    skip = (" AND id <> ?", (exclude_id,)) if exclude_id is not None else ("", ())
    ids = [row["id"] for row in await tx.fetchall(
        f"SELECT id FROM tasks WHERE {where}{skip[0]} ORDER BY rank", (*params, *skip[1]))]
    # Negative first (the excluded, moving task too), so no intermediate state
    # collides with the unique index; the mover gets its new rank afterwards.
    await tx.execute(f"UPDATE tasks SET rank = -rank - 1 WHERE {where}", params)
    await tx.executemany("UPDATE tasks SET rank = ? WHERE id = ?",
                         [((i + 1) * RANK_GAP, task_id) for i, task_id in enumerate(ids)])


async def rank_at(tx: Tx, scope: Scope, index: int | None, exclude_id: int | None = None) -> int:
    """A free rank placing a task at `index` (None: the end) of `scope`'s list."""
    where, params = scope.where()
    skip = (" AND id <> ?", (exclude_id,)) if exclude_id is not None else ("", ())
    if index is None:
        last = await tx.fetchval(f"SELECT MAX(rank) FROM tasks WHERE {where}{skip[0]}",
                                 (*params, *skip[1]))
        return (int(last) if last is not None and last > 0 else 0) + RANK_GAP
    for _attempt in range(2):
        offset = max(index - 1, 0)
        ranks = [row["rank"] for row in await tx.fetchall(
            f"SELECT rank FROM tasks WHERE {where}{skip[0]} ORDER BY rank LIMIT 2 OFFSET ?",
            (*params, *skip[1], offset))]
        if index == 0:
            before, after = None, (ranks[0] if ranks else None)
        else:
            before = ranks[0] if ranks else None
            after = ranks[1] if len(ranks) > 1 else None
            if before is None:  # past the end
                return await rank_at(tx, scope, None, exclude_id)
        if after is None:
            return int(before or 0) + RANK_GAP
        low = int(before) if before is not None else 0
        if int(after) - low >= 2:
            return (low + int(after)) // 2
        await _renumber(tx, scope, exclude_id)
    raise RuntimeError("renumbering left no gap")  # unreachable: ranks are GAP apart


async def insert(tx: Tx, values: dict[str, Any]) -> int:
    now = now_iso()
    values = {**values, "created_at": now, "updated_at": now,
              "updated_by": values["created_by"]}
    names = ", ".join(values)
    return int(await tx.fetchval(
        f"INSERT INTO tasks ({names}) VALUES ({dialect.placeholders(len(values))}) RETURNING id",
        tuple(values.values())))


async def update(tx: Tx, task_id: int, changes: dict[str, Any], actor_id: int) -> None:
    """Write changed fields, bump the version, stamp who and when."""
    assignments = "".join(f"{name} = ?, " for name in changes)
    await tx.execute(
        f"UPDATE tasks SET {assignments}version = version + 1, updated_by = ?, updated_at = ? "
        "WHERE id = ?", (*changes.values(), actor_id, now_iso(), task_id))


async def move_column_tasks(tx: Tx, from_column: int, to_column: int) -> int:
    """Append every top-level task of one column, in order, to the end of another."""
    ids = [row["id"] for row in await tx.fetchall(
        "SELECT id FROM tasks WHERE column_id = ? ORDER BY rank",
        (from_column,))]
    start = await rank_at(tx, Scope(column_id=to_column), None)
    # Park the moving tasks on negative ranks first, clear of both columns' ranks.
    await tx.execute("UPDATE tasks SET rank = -rank - 1 WHERE column_id = ?", (from_column,))
    await tx.executemany(
        "UPDATE tasks SET column_id = ?, rank = ?, version = version + 1 WHERE id = ?",
        [(to_column, start + i * RANK_GAP, task_id) for i, task_id in enumerate(ids)])
    return len(ids)


async def delete(tx: Tx, task_id: int) -> None:
    await tx.execute("DELETE FROM tasks WHERE id = ?", (task_id,))


async def set_labels(tx: Tx, task_id: int, label_ids: list[int]) -> None:
    await tx.execute("DELETE FROM task_labels WHERE task_id = ?", (task_id,))
    await tx.executemany("INSERT INTO task_labels (task_id, label_id) VALUES (?, ?)",
                         [(task_id, label_id) for label_id in dict.fromkeys(label_ids)])


async def assignee_ids(conn: Conn, task_id: int) -> list[int]:
    return [row[0] for row in await conn.fetchtuples(
        "SELECT user_id FROM task_assignees WHERE task_id = ? ORDER BY user_id", (task_id,))]


async def set_assignees(tx: Tx, task_id: int, user_ids: list[int]) -> None:
    await tx.execute("DELETE FROM task_assignees WHERE task_id = ?", (task_id,))
    await tx.executemany("INSERT INTO task_assignees (task_id, user_id) VALUES (?, ?)",
                         [(task_id, user_id) for user_id in dict.fromkeys(user_ids)])


async def touch(tx: Tx, task_id: int, actor_id: int) -> None:
    """Record a change to the task's links (labels, assignees): new version, new stamp."""
    await update(tx, task_id, {}, actor_id)
