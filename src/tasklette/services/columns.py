"""Columns: list, add, rename, reorder, delete (moving their tasks elsewhere)."""

from __future__ import annotations

from tasklette.services import permissions
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.storage import columns, events, projects, task_order
from tasklette.storage.database import Database, Row, Tx, retried

MAX_COLUMNS = 100


async def list_for_project(db: Database, actor: Actor, project_id: int) -> list[Row]:
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        return await columns.list_for_project(conn, project_id)


async def _editable(tx: Tx, actor: Actor, column_id: int) -> Row:
    column = await columns.get_for_member(tx, column_id, actor.id)
    if column is None:
        raise NotFound("column not found")
    permissions.require_edit(column.pop("role"), "column")
    return column


@retried
async def create(db: Database, actor: Actor, project_id: int, name: str,
                 position: int | None = None) -> Row:
    async with db.transaction() as tx:
        permissions.require_edit(await projects.role_of(tx, project_id, actor.id), "project")
        await projects.lock(tx, project_id)
        count = await columns.count(tx, project_id)
        if count >= MAX_COLUMNS:
            raise Conflict(f"a project can have at most {MAX_COLUMNS} columns")
        column_id = await columns.insert(tx, project_id, name,
                                         count if position is None else min(position, count))
        column = await columns.get(tx, column_id)
        assert column is not None
        await events.append(tx, project_id, actor.id, "column.created", "column", column_id,
                            {"column": column})
    return column


@retried
async def update(db: Database, actor: Actor, column_id: int, name: str | None,
                 position: int | None) -> Row:
    """Rename a column and/or move it to another place on the board."""
    async with db.transaction() as tx:
        project_id = (await _editable(tx, actor, column_id))["project_id"]
        await projects.lock(tx, project_id)
        column = await columns.get(tx, column_id)  # its position now that moves wait
        if column is None:
            raise NotFound("column not found")
        if name is not None:
            await columns.rename(tx, column_id, name)
        if position is not None:
            last = await columns.count(tx, project_id) - 1
            await columns.move(tx, project_id, column_id, column["position"],
                               min(position, last))
        updated = await columns.get(tx, column_id)
        assert updated is not None
        if updated != column:
            await events.append(
                tx, project_id, actor.id, "column.updated", "column", column_id,
                {"column": updated, "columns": await columns.list_for_project(tx, project_id)})
    return updated


@retried
async def delete(db: Database, actor: Actor, column_id: int, move_to: int | None) -> None:
    """Delete a column; its tasks must be moved to `move_to` unless it is empty."""
    async with db.transaction() as tx:
        project_id = (await _editable(tx, actor, column_id))["project_id"]
        await projects.lock(tx, project_id)
        await columns.lock(tx, column_id, *([] if move_to is None else [move_to]))
        # Read again under the locks: a task created or moved into the column meanwhile
        # has committed by now (and holds it), or another deletion took the column first.
        column = await columns.get(tx, column_id)
        if column is None:
            raise NotFound("column not found")
        moved = 0
        if move_to is not None:
            if move_to == column_id or not await columns.in_project(tx, project_id, move_to):
                raise Invalid("move_to must be another column of the same project",
                              field="move_to")
            moved = await task_order.move_column_tasks(tx, column_id, move_to)
        elif column["task_count"]:
            raise Conflict(f"the column still holds {column['task_count']} tasks: delete them "
                           "or name a column to move them to (move_to)")
        await columns.delete(tx, project_id, column_id, column["position"])
        await events.append(tx, project_id, actor.id, "column.deleted", "column", column_id,
                            {"column_id": column_id, "moved_to": move_to,
                             "moved_tasks": moved})
