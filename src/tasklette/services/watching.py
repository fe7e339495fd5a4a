"""Watching: a member follows a task or a whole project, by hand or automatically.

Automatic watches (creating a task, being assigned, commenting, being mentioned) are
written in the change's own transaction and never undo an unwatch made by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tasklette.services import permissions
from tasklette.services.errors import NotFound
from tasklette.services.permissions import Actor
from tasklette.storage import projects, tasks, watchers
from tasklette.storage.database import Conn, Database, Tx, retried


@dataclass(frozen=True)
class WatchState:
    """Whether the user is told about a task's activity, and whether through its project."""

    watching: bool
    project: bool

    def as_json(self) -> dict[str, bool]:
        return {"watching": self.watching, "project": self.project}


async def _task_project(conn: Conn, actor: Actor, task_id: int) -> int:
    task = await tasks.get_for_member(conn, task_id, actor.id)
    if task is None:
        raise NotFound("task not found")
    return int(task["project_id"])


async def _task_state(conn: Conn, actor: Actor, project_id: int, task_id: int) -> WatchState:
    choice = await watchers.task_state(conn, task_id, actor.id)
    project = await watchers.watches_project(conn, project_id, actor.id)
    return WatchState(choice if choice is not None else project, project)


async def task_state(db: Database, actor: Actor, task_id: int) -> WatchState:
    async with db.reading() as conn:
        project_id = await _task_project(conn, actor, task_id)
        return await _task_state(conn, actor, project_id, task_id)


@retried
async def set_task(db: Database, actor: Actor, task_id: int, watching: bool) -> WatchState:
    """Watch or unwatch a task (any member, viewers too); the state that results."""
    async with db.transaction() as tx:
        project_id = await _task_project(tx, actor, task_id)
        await watchers.set_task(tx, task_id, actor.id, watching)
        return await _task_state(tx, actor, project_id, task_id)


async def project_state(db: Database, actor: Actor, project_id: int) -> WatchState:
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        project = await watchers.watches_project(conn, project_id, actor.id)
    return WatchState(project, project)


@retried
async def set_project(db: Database, actor: Actor, project_id: int,
                      watching: bool) -> WatchState:
    """Watch or unwatch every task of a project (tasks unwatched by hand stay so)."""
    async with db.transaction() as tx:
        permissions.require_read(await projects.role_of(tx, project_id, actor.id), "project")
        await watchers.set_project(tx, project_id, actor.id, watching)
    return WatchState(watching, watching)


async def watch_automatically(tx: Tx, task_id: int, user_ids: Iterable[int]) -> None:
    """In a change's transaction: these users now watch the task, unless they unwatched it."""
    await watchers.add_automatic(tx, task_id, user_ids)
