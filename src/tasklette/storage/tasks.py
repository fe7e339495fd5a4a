"""Tasks: one task's row, its role for a member, its locks and its ancestry.

Its order lives in `task_order`, its labels, assignees and counts in
`task_hydration`, filtered pages in `task_lists`, and writes in `task_writes`.
"""

from __future__ import annotations

from tasklette.storage import columns
from tasklette.storage import task_hydration as hydration
from tasklette.storage.database import Conn, Row, Tx
from tasklette.storage.task_order import POSITION

PRIORITIES = ("none", "low", "medium", "high", "urgent")

FIELDS = ("t.id, t.project_id, t.column_id, t.parent_task_id, t.rank, t.title, t.description, "
          "t.priority, t.start_date, t.due_date, t.completed, t.completed_at, t.version, "
          "t.created_by, t.created_at, t.updated_by, t.updated_at")


def shape(row: Row) -> Row:
    """The row as clients see it: priority by name, completed a bool, no rank."""
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
    return None if row is None else shape(row)


async def get_full(conn: Conn, task_id: int, *, member: int | None = None,
                   with_subtasks: bool = True) -> Row | None:
    """The task with labels, assignees, counts (and subtasks), in one statement.

    With `member`, also that user's `role` in its project, and None for non-members.
    """
    role, join = "", ""
    params: tuple[int, ...] = (task_id,)
    if member is not None:
        role = ", m.role"
        join = "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ? "
        params = (member, task_id)
    subtasks = f", {hydration.subtasks_column(conn.dialect)}" if with_subtasks else ""
    row = await conn.fetchone(
        f"SELECT {FIELDS}, {POSITION}{role}, {hydration.columns(conn.dialect)}{subtasks} "
        f"FROM tasks t {join}WHERE t.id = ?", params)
    return None if row is None else hydration.finish(shape(row))


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


async def assignee_ids(conn: Conn, task_id: int) -> list[int]:
    return [row[0] for row in await conn.fetchtuples(
        "SELECT user_id FROM task_assignees WHERE task_id = ? ORDER BY user_id", (task_id,))]
