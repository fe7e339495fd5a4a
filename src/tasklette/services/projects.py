"""Projects: create with default columns, read, rename, archive, delete."""

from __future__ import annotations

from typing import Any

from tasklette.services import blob_garbage, permissions
from tasklette.services.errors import NotFound
from tasklette.services.permissions import Actor
from tasklette.storage import attachments, columns, events, members, projects
from tasklette.storage.database import Conn, Database, Row, retried

DEFAULT_COLUMNS = ("To do", "In progress", "Done")


async def role_in(conn: Conn, actor: Actor, project_id: int) -> str:
    """The actor's role, or NotFound for a non-member."""
    return permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")


@retried
async def create(db: Database, actor: Actor, name: str, description: str = "") -> Row:
    """Create a project owned by the actor, with the default columns."""
    async with db.transaction() as tx:
        project = await projects.insert(tx, name, description, actor.id)
        await members.add(tx, project["id"], actor.id, "owner")
        for position, column in enumerate(DEFAULT_COLUMNS):
            await columns.insert(tx, project["id"], column, position)
        result = await projects.get_for_member(tx, project["id"], actor.id)
        assert result is not None
        await events.append(tx, project["id"], actor.id, "project.created", "project",
                            project["id"], {"project": result})
    return result


async def list_mine(db: Database, actor: Actor) -> list[Row]:
    async with db.reading() as conn:
        return await projects.list_for_member(conn, actor.id)


async def get(db: Database, actor: Actor, project_id: int) -> Row:
    async with db.reading() as conn:
        project = await projects.get_for_member(conn, project_id, actor.id)
    if project is None:
        raise NotFound("project not found")
    return project


@retried
async def update(db: Database, actor: Actor, project_id: int, changes: dict[str, Any]) -> Row:
    """Rename, redescribe or archive a project (owners)."""
    async with db.transaction() as tx:
        permissions.require_manage(await projects.role_of(tx, project_id, actor.id), "project")
        if changes:
            await projects.update(tx, project_id, dict(changes))
        project = await projects.get_for_member(tx, project_id, actor.id)
        assert project is not None
        if changes:
            await events.append(tx, project_id, actor.id, "project.updated", "project",
                                project_id, {"project": project, "changes": sorted(changes)})
    return project


@retried
async def delete(db: Database, actor: Actor, project_id: int) -> None:
    """Delete a project with everything in it (owners)."""
    async with db.transaction() as tx:
        permissions.require_manage(await projects.role_of(tx, project_id, actor.id), "project")
        await blob_garbage.note_deleted(tx, await attachments.digests_of_project(tx, project_id))
        await projects.delete(tx, project_id)
        await events.append(tx, project_id, actor.id, "project.deleted", "project", project_id,
                            {"project_id": project_id})
