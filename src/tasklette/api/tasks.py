"""API views for tasks, their labels and their comments."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tasklette.api import schemas
from tasklette.api.http import JSON, if_match_version
from tasklette.services import activity, comments, tasks
from tasklette.services.errors import Invalid
from tasklette.services.permissions import Actor
from tasklette.storage.task_lists import TaskFilter
from tasklette.storage.tasks import PRIORITIES


def _db(request: Request) -> Any:
    return request.app.state.db


def _with_etag(task: dict[str, Any], status: int = 200) -> JSON:
    return JSON(task, status_code=status, headers={"etag": f'"{task["version"]}"'})


def _fields(body: schemas.TaskCreate | schemas.TaskUpdate) -> tasks.TaskFields:
    sent = body.model_fields_set
    return tasks.TaskFields(
        title=body.title, description=body.description, priority=body.priority,
        start_date=body.start_date.isoformat() if body.start_date else None,
        due_date=body.due_date.isoformat() if body.due_date else None,
        completed=body.completed, label_ids=body.label_ids, assignees=body.assignees,
        column_id=body.column_id,
        cleared=frozenset(name for name in ("start_date", "due_date")
                          if name in sent and getattr(body, name) is None))


async def create_task(request: Request, actor: Actor, body: schemas.TaskCreate) -> JSON:
    task = await tasks.create(_db(request), actor, request.path_params["project_id"],
                              _fields(body), body.parent_task_id, body.position)
    return _with_etag(task, 201)


async def get_task(request: Request, actor: Actor) -> JSON:
    return _with_etag(await tasks.get(_db(request), actor, request.path_params["task_id"]))


async def update_task(request: Request, actor: Actor, body: schemas.TaskUpdate) -> JSON:
    header = if_match_version(request)
    if header is not None and body.version is not None and header != body.version:
        raise Invalid("If-Match and version name different versions", field="version")
    version = body.version if body.version is not None else header
    task = await tasks.update(_db(request), actor, request.path_params["task_id"],
                              _fields(body), version)
    return _with_etag(task)


async def delete_task(request: Request, actor: Actor) -> None:
    await tasks.delete(_db(request), actor, request.path_params["task_id"],
                       if_match_version(request))


async def move_task(request: Request, actor: Actor, body: schemas.TaskMove) -> JSON:
    task = await tasks.move(_db(request), actor, request.path_params["task_id"],
                            body.column_id, body.position)
    return _with_etag(task)


def list_query(query: schemas.TaskListQuery) -> tasks.ListQuery:
    """The service's list request for a validated query string (API and list page alike)."""
    priorities = []
    for part in (query.priority or "").split(","):
        if name := part.strip(" "):  # spaces only, as the document's pattern says
            if name not in PRIORITIES:
                raise Invalid(f"there is no priority {name!r}; use one of "
                              f"{', '.join(PRIORITIES)}", field="priority")
            priorities.append(PRIORITIES.index(name))
    parent: int | str | None = query.parent
    if parent is not None and parent != "any":
        parent = int(parent)
    flt = TaskFilter(
        column_id=query.column, label_id=query.label, priorities=priorities,
        due_before=query.due_before.isoformat() if query.due_before else None,
        due_after=query.due_after.isoformat() if query.due_after else None,
        completed=query.completed, text=query.q, parent=parent)
    return tasks.ListQuery(filter=flt, assignee=query.assignee, sort=query.sort.lstrip("-"),
                           descending=query.sort.startswith("-"), cursor=query.cursor,
                           limit=query.limit)


async def list_tasks(request: Request, actor: Actor, query: schemas.TaskListQuery) -> Any:
    items, next_cursor = await tasks.list_page(
        _db(request), actor, request.path_params["project_id"], list_query(query))
    return {"items": items, "next_cursor": next_cursor}


async def attach_label(request: Request, actor: Actor) -> JSON:
    return _with_etag(await tasks.set_label(_db(request), actor, request.path_params["task_id"],
                                            request.path_params["label_id"], True))


async def detach_label(request: Request, actor: Actor) -> JSON:
    return _with_etag(await tasks.set_label(_db(request), actor, request.path_params["task_id"],
                                            request.path_params["label_id"], False))


async def task_activity(request: Request, actor: Actor) -> Any:
    return await activity.for_task(_db(request), actor, request.path_params["task_id"])


async def list_comments(request: Request, actor: Actor) -> Any:
    return await comments.list_for_task(_db(request), actor, request.path_params["task_id"])


async def create_comment(request: Request, actor: Actor, body: schemas.CommentCreate) -> Any:
    return await comments.create(_db(request), actor, request.path_params["task_id"],
                                 body.body)


async def edit_comment(request: Request, actor: Actor, body: schemas.CommentCreate) -> Any:
    return await comments.edit(_db(request), actor, request.path_params["comment_id"],
                               body.body)


async def delete_comment(request: Request, actor: Actor) -> None:
    await comments.delete(_db(request), actor, request.path_params["comment_id"])
