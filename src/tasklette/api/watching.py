"""API views for watching tasks and projects."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tasklette.services import watching
from tasklette.services.permissions import Actor


async def get_task_watch(request: Request, actor: Actor) -> Any:
    state = await watching.task_state(request.app.state.db, actor,
                                      request.path_params["task_id"])
    return state.as_json()


async def watch_task(request: Request, actor: Actor) -> Any:
    state = await watching.set_task(request.app.state.db, actor,
                                    request.path_params["task_id"], True)
    return state.as_json()


async def unwatch_task(request: Request, actor: Actor) -> Any:
    state = await watching.set_task(request.app.state.db, actor,
                                    request.path_params["task_id"], False)
    return state.as_json()


async def get_project_watch(request: Request, actor: Actor) -> Any:
    state = await watching.project_state(request.app.state.db, actor,
                                         request.path_params["project_id"])
    return state.as_json()


async def watch_project(request: Request, actor: Actor) -> Any:
    state = await watching.set_project(request.app.state.db, actor,
                                       request.path_params["project_id"], True)
    return state.as_json()


async def unwatch_project(request: Request, actor: Actor) -> Any:
    state = await watching.set_project(request.app.state.db, actor,
                                       request.path_params["project_id"], False)
    return state.as_json()
