"""Hydration: a task's labels, assignees, comment, attachment and subtask counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row


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
