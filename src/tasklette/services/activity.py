"""Activity: the event log of a project or a task, as members may read it."""

from __future__ import annotations

from tasklette.services import permissions
from tasklette.services.errors import NotFound
from tasklette.services.permissions import Actor
from tasklette.storage import events, projects, tasks
from tasklette.storage.database import Database, Row


async def for_project(db: Database, actor: Actor, project_id: int, before_id: int | None,
                      limit: int) -> tuple[list[Row], int | None]:
    """A page of the project's events, newest first, and the id to continue before."""
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        rows = await events.for_project(conn, project_id, before_id=before_id, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more else None)


async def for_task(db: Database, actor: Actor, task_id: int) -> list[Row]:
    async with db.reading() as conn:
        if await tasks.get_for_member(conn, task_id, actor.id) is None:
            raise NotFound("task not found")
        return await events.for_task(conn, task_id)
