"""Saved views: a list-view filter and sort under a name, shared with the project."""

from __future__ import annotations

from urllib.parse import parse_qsl

from tasklette.services import permissions
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.storage import columns, events, labels, projects
from tasklette.storage import saved_views as store
from tasklette.storage.database import Conn, Database, IntegrityError, Row, Tx, retried


def shape(view: Row) -> Row:
    """The view as clients see it, with the list-view address it opens."""
    query = view["query"]
    path = f"/projects/{view['project_id']}/list"
    return {"id": view["id"], "project_id": view["project_id"], "name": view["name"],
            "query": query, "url": f"{path}?{query}" if query else path,
            "created_by": view.get("created_by_username"),
            "created_at": view["created_at"], "updated_at": view["updated_at"]}


async def _check_references(conn: Conn, project_id: int, query: str) -> None:
    """A view may name only this project's labels and columns."""
    values = dict(parse_qsl(query))
    if "label" in values and not await labels.ids_in_project(
            conn, project_id, [int(values["label"])]):
        raise Invalid("the view names a label that is not in this project", field="query")
    if "column" in values and not await columns.in_project(conn, project_id,
                                                           int(values["column"])):
        raise Invalid("the view names a column that is not in this project", field="query")


async def list_for_project(db: Database, actor: Actor, project_id: int) -> list[Row]:
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        return [shape(view) for view in await store.list_for_project(conn, project_id)]


async def get(db: Database, actor: Actor, view_id: int) -> Row:
    async with db.reading() as conn:
        view = await store.get_for_member(conn, view_id, actor.id)
    if view is None:
        raise NotFound("saved view not found")
    return shape(view)


async def _written(tx: Tx, actor: Actor, view_id: int, kind: str) -> Row:
    view = await store.get(tx, view_id)
    assert view is not None
    shaped = shape(view)
    await events.append(tx, view["project_id"], actor.id, kind, "view", view_id,
                        {"view": shaped})
    return shaped


@retried
async def create(db: Database, actor: Actor, project_id: int, name: str, query: str) -> Row:
    """Save `query` (a validated list-view query string) as `name` (editors)."""
    try:
        async with db.transaction() as tx:
            permissions.require_edit(await projects.role_of(tx, project_id, actor.id),
                                     "project")
            await _check_references(tx, project_id, query)
            view_id = await store.insert(tx, project_id, name, query, actor.id)
            return await _written(tx, actor, view_id, "view.created")
    except IntegrityError:
        raise Conflict(f"the project already has a view named {name!r}") from None


@retried
async def update(db: Database, actor: Actor, view_id: int, name: str | None,
                 query: str | None) -> Row:
    """Rename a view, or give it another query (editors)."""
    try:
        async with db.transaction() as tx:
            view = await store.get_for_member(tx, view_id, actor.id)
            if view is None:
                raise NotFound("saved view not found")
            permissions.require_edit(view["role"], "saved view")
            changes: dict[str, str] = {}
            if name is not None:
                changes["name"] = name
            if query is not None:
                await _check_references(tx, view["project_id"], query)
                changes["query"] = query
            if not changes:
                return shape(view)
            await store.update(tx, view_id, changes)
            return await _written(tx, actor, view_id, "view.updated")
    except IntegrityError:
        raise Conflict(f"the project already has a view named {name!r}") from None


@retried
async def delete(db: Database, actor: Actor, view_id: int) -> None:
    async with db.transaction() as tx:
        view = await store.get_for_member(tx, view_id, actor.id)
        if view is None:
            raise NotFound("saved view not found")
        permissions.require_edit(view["role"], "saved view")
        await store.delete(tx, view_id)
        await events.append(tx, view["project_id"], actor.id, "view.deleted", "view", view_id,
                            {"view": shape(view)})
