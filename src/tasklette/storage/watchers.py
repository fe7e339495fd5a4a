"""Watchers: who follows a task (or a whole project) and who unwatched a task by hand."""

from __future__ import annotations

from collections.abc import Iterable

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Tx


async def set_task(tx: Tx, task_id: int, user_id: int, watching: bool) -> None:
    """Watch or unwatch a task by hand (an unwatch is remembered)."""
    await tx.execute(
        "INSERT INTO task_watchers (task_id, user_id, watching, created_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (task_id, user_id) DO UPDATE "
        "SET watching = excluded.watching",
        (task_id, user_id, int(watching), now_iso()))


async def add_automatic(tx: Tx, task_id: int, user_ids: Iterable[int]) -> None:
    """Users watch the task, unless they chose about it before (an unwatch stands)."""
    now = now_iso()
    rows = [(task_id, user_id, now) for user_id in sorted(set(user_ids))]
    if rows:
        await tx.executemany(
            "INSERT INTO task_watchers (task_id, user_id, watching, created_at) "
            "VALUES (?, ?, 1, ?) ON CONFLICT (task_id, user_id) DO NOTHING", rows)


async def task_state(conn: Conn, task_id: int, user_id: int) -> bool | None:
    """True or False when the user chose about this task; None when they never did."""
    value = await conn.fetchval(
        "SELECT watching FROM task_watchers WHERE task_id = ? AND user_id = ?",
        (task_id, user_id))
    return None if value is None else bool(value)


async def set_project(tx: Tx, project_id: int, user_id: int, watching: bool) -> None:
    if watching:
        await tx.execute(
            "INSERT INTO project_watchers (project_id, user_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (project_id, user_id) DO NOTHING", (project_id, user_id, now_iso()))
    else:
        await tx.execute("DELETE FROM project_watchers WHERE project_id = ? AND user_id = ?",
                         (project_id, user_id))


async def watches_project(conn: Conn, project_id: int, user_id: int) -> bool:
    return bool(await conn.fetchval(
        "SELECT COUNT(*) FROM project_watchers WHERE project_id = ? AND user_id = ?",
        (project_id, user_id)))


async def of_task(conn: Conn, project_id: int, task_id: int) -> set[int]:
    """Everyone watching the task: by choice about it, or through its project (unless
    they unwatched the task), who is still a member of the project."""
    rows = await conn.fetchtuples(
        "SELECT w.user_id FROM task_watchers w JOIN project_members m "
        "ON m.project_id = ? AND m.user_id = w.user_id WHERE w.task_id = ? AND w.watching = 1 "
        "UNION SELECT p.user_id FROM project_watchers p JOIN project_members m "
        "ON m.project_id = p.project_id AND m.user_id = p.user_id WHERE p.project_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM task_watchers w WHERE w.task_id = ? "
        "AND w.user_id = p.user_id AND w.watching = 0)",
        (project_id, task_id, project_id, task_id))
    return {int(user_id) for (user_id,) in rows}


async def anyone_but(conn: Conn, project_id: int, task_id: int, user_id: int) -> bool:
    """Whether anyone other than `user_id` watches the task (a cheap read, so that a
    change nobody else follows queues no job)."""
    return await conn.fetchone(
        "SELECT 1 FROM task_watchers WHERE task_id = ? AND watching = 1 AND user_id <> ? "
        "UNION ALL SELECT 1 FROM project_watchers p WHERE p.project_id = ? "
        "AND p.user_id <> ? AND NOT EXISTS (SELECT 1 FROM task_watchers w "
        "WHERE w.task_id = ? AND w.user_id = p.user_id AND w.watching = 0) LIMIT 1",
        (task_id, user_id, project_id, user_id, task_id)) is not None


async def forget_member(tx: Tx, project_id: int, user_id: int) -> None:
    """A member who leaves stops watching the project and its tasks."""
    await tx.execute("DELETE FROM project_watchers WHERE project_id = ? AND user_id = ?",
                     (project_id, user_id))
    await tx.execute(
        "DELETE FROM task_watchers WHERE user_id = ? AND task_id IN "
        "(SELECT id FROM tasks WHERE project_id = ?)", (user_id, project_id))


