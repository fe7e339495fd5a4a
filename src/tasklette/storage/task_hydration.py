"""Hydration: a task's labels, assignees, comment, attachment and subtask counts.

One set of correlated subqueries (`columns`) hydrates the tasks of whatever query
selects them: the database builds each task's labels and assignees as a JSON array
and counts the rest, so a task or a page of tasks is one statement (one round trip
on PostgreSQL) whose links are read in the same snapshot as the tasks, and only the
rows the query returns are hydrated. `finish` makes those columns what clients see.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row

NAMES = ("labels", "assignees", "comment_count", "attachment_count", "subtask_count",
         "subtasks_completed")


@lru_cache(maxsize=4)
def columns(sql_dialect: str) -> str:
    """Select-list entries hydrating the task aliased `t`, named as in `NAMES`."""
    labels = dialect.json_rows(sql_dialect, "h_l.id", "h_l.name", "h_l.color")
    people = dialect.json_rows(sql_dialect, "h_u.id", "h_u.username", "h_u.display_name")
    return (
        f"(SELECT {labels} FROM task_labels h_tl JOIN labels h_l ON h_l.id = h_tl.label_id "
        "WHERE h_tl.task_id = t.id) AS labels, "
        f"(SELECT {people} FROM task_assignees h_ta JOIN users h_u ON h_u.id = h_ta.user_id "
        "WHERE h_ta.task_id = t.id) AS assignees, "
        "(SELECT COUNT(*) FROM comments h_c WHERE h_c.task_id = t.id) AS comment_count, "
        "(SELECT COUNT(*) FROM attachments h_a WHERE h_a.task_id = t.id) AS attachment_count, "
        "(SELECT COUNT(*) FROM tasks h_s WHERE h_s.parent_task_id = t.id) AS subtask_count, "
        "(SELECT COALESCE(SUM(h_s.completed), 0) FROM tasks h_s "
        "WHERE h_s.parent_task_id = t.id) AS subtasks_completed")


@lru_cache(maxsize=4)
def subtasks_column(sql_dialect: str) -> str:
    """A select-list entry with the subtasks of the task aliased `t`, named `subtasks`."""
    rows = dialect.json_rows(sql_dialect, "h_s.id", "h_s.title", "h_s.completed",
                             "h_s.due_date", "h_s.rank")
    return f"(SELECT {rows} FROM tasks h_s WHERE h_s.parent_task_id = t.id) AS subtasks"


def _label_order(label: Row) -> tuple[str, int]:
    return label["name"].lower(), label["id"]


def _username(user: Row) -> str:
    return str(user["username"])


def _labels(text: str | None) -> list[Row]:
    if not text or text == "[]":  # PostgreSQL's json_agg is NULL over no rows
        return []
    labels = [{"id": id_, "name": name, "color": color}
              for id_, name, color in orjson.loads(text)]
    if len(labels) > 1:
        labels.sort(key=_label_order)
    return labels


def _people(text: str | None) -> list[Row]:
    if not text or text == "[]":
        return []
    people = [{"id": id_, "username": username, "display_name": display_name}
              for id_, username, display_name in orjson.loads(text)]
    if len(people) > 1:
        people.sort(key=_username)
    return people


def _subtasks(text: str | None) -> list[Row]:
    if not text or text == "[]":
        return []
    return [{"id": id_, "title": title, "completed": bool(completed), "due_date": due}
            for id_, title, completed, due, _rank in sorted(orjson.loads(text),
                                                              key=lambda s: s[4])]


def finish(row: Row) -> Row:
    """The row's hydration columns (`columns`, `subtasks_column`) as clients see them."""
    row["labels"] = _labels(row["labels"])
    row["assignees"] = _people(row["assignees"])
    row["subtasks_completed"] = int(row["subtasks_completed"])
    if "subtasks" in row:
        row["subtasks"] = _subtasks(row["subtasks"])
    return row


def _fill(task: Row, values: tuple[Any, ...]) -> None:
    labels, assignees, comments, attachments, subtasks, done = values
    task["labels"] = _labels(labels)
    task["assignees"] = _people(assignees)
    task["comment_count"] = comments
    task["attachment_count"] = attachments
    task["subtask_count"] = subtasks
    task["subtasks_completed"] = int(done)


async def hydrate(conn: Conn, tasks: list[Row], *, with_subtasks: bool = False) -> list[Row]:
    """Attach labels, assignees and counts to tasks already read (one query for any number).

    A task gone meanwhile (a write on PostgreSQL reads each statement's own snapshot)
    keeps empty lists and zero counts.
    """
    if not tasks:
        return tasks
    by_id = {task["id"]: task for task in tasks}
    for task in tasks:
        task.update(labels=[], assignees=[], comment_count=0, attachment_count=0,
                    subtask_count=0, subtasks_completed=0)
    for task_id, *values in await conn.fetchtuples(
            f"SELECT t.id, {columns(conn.dialect)} FROM tasks t "
            f"WHERE {dialect.in_ids(conn.dialect, 't.id')}",
            (dialect.ids_param(conn.dialect, by_id),)):
        _fill(by_id[task_id], tuple(values))
    if with_subtasks:
        await attach_subtasks(conn, tasks)
    return tasks


async def attach_subtasks(conn: Conn, tasks: list[Row]) -> None:
    """Give each task its `subtasks` list (id, title, completed, due date), in order."""
    by_id = {task["id"]: task for task in tasks}
    for task in tasks:
        task["subtasks"] = []
    for row in await conn.fetchall(
            "SELECT id, parent_task_id, title, completed, due_date FROM tasks "
            f"WHERE {dialect.in_ids(conn.dialect, 'parent_task_id')} "
            "ORDER BY parent_task_id, rank", (dialect.ids_param(conn.dialect, by_id),)):
        row["completed"] = bool(row["completed"])
        by_id[row.pop("parent_task_id")]["subtasks"].append(row)


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
            task["labels"].sort(key=_label_order)
        if len(task["assignees"]) > 1:
            task["assignees"].sort(key=_username)
    return tasks
