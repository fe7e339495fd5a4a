"""API views for projects, members, columns, labels and activity."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request

from tasklette.api import schemas
from tasklette.services import activity, columns, labels, members, projects
from tasklette.services.permissions import Actor


def _db(request: Request) -> Any:
    return request.app.state.db


def _changes(body: BaseModel) -> dict[str, Any]:
    """The fields sent (the models refuse null for them: nothing here can be cleared)."""
    return body.model_dump(exclude_unset=True)


async def list_projects(request: Request, actor: Actor) -> Any:
    return await projects.list_mine(_db(request), actor)


async def create_project(request: Request, actor: Actor, body: schemas.ProjectCreate) -> Any:
    return await projects.create(_db(request), actor, body.name, body.description)


async def get_project(request: Request, actor: Actor) -> Any:
    return await projects.get(_db(request), actor, request.path_params["project_id"])


async def update_project(request: Request, actor: Actor, body: schemas.ProjectUpdate) -> Any:
    changes = _changes(body)
    return await projects.update(_db(request), actor, request.path_params["project_id"],
                                 changes)


async def delete_project(request: Request, actor: Actor) -> None:
    await projects.delete(_db(request), actor, request.path_params["project_id"])


async def list_members(request: Request, actor: Actor) -> Any:
    return await members.list_for_project(_db(request), actor,
                                          request.path_params["project_id"])


async def add_member(request: Request, actor: Actor, body: schemas.MemberAdd) -> Any:
    return await members.add(_db(request), actor, request.path_params["project_id"],
                             body.username, body.role)


async def update_member(request: Request, actor: Actor, body: schemas.MemberUpdate) -> Any:
    return await members.change_role(_db(request), actor, request.path_params["project_id"],
                                     request.path_params["username"], body.role)


async def remove_member(request: Request, actor: Actor) -> None:
    await members.remove(_db(request), actor, request.path_params["project_id"],
                         request.path_params["username"])


async def list_columns(request: Request, actor: Actor) -> Any:
    return await columns.list_for_project(_db(request), actor,
                                          request.path_params["project_id"])


async def create_column(request: Request, actor: Actor, body: schemas.ColumnCreate) -> Any:
    return await columns.create(_db(request), actor, request.path_params["project_id"],
                                body.name, body.position)


async def update_column(request: Request, actor: Actor, body: schemas.ColumnUpdate) -> Any:
    changes = _changes(body)
    return await columns.update(_db(request), actor, request.path_params["column_id"],
                                changes.get("name"), changes.get("position"))


async def delete_column(request: Request, actor: Actor,
                        query: schemas.ColumnDeleteQuery) -> None:
    await columns.delete(_db(request), actor, request.path_params["column_id"], query.move_to)


async def list_labels(request: Request, actor: Actor) -> Any:
    return await labels.list_for_project(_db(request), actor,
                                         request.path_params["project_id"])


async def create_label(request: Request, actor: Actor, body: schemas.LabelCreate) -> Any:
    return await labels.create(_db(request), actor, request.path_params["project_id"],
                               body.name, body.color)


async def get_label(request: Request, actor: Actor) -> Any:
    return await labels.get(_db(request), actor, request.path_params["label_id"])


async def update_label(request: Request, actor: Actor, body: schemas.LabelUpdate) -> Any:
    return await labels.update(_db(request), actor, request.path_params["label_id"],
                               _changes(body))


async def delete_label(request: Request, actor: Actor) -> None:
    await labels.delete(_db(request), actor, request.path_params["label_id"])


async def list_activity(request: Request, actor: Actor, query: schemas.ActivityQuery) -> Any:
    items, next_before = await activity.for_project(
        _db(request), actor, request.path_params["project_id"], query.before, query.limit,
        by=query.actor, kinds=(query.kind,) if query.kind else ())
    return {"items": items, "next_before": next_before}
