"""API views for search and saved views."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import ValidationError
from starlette.requests import Request

from tasklette.api import schemas
from tasklette.services import saved_views, search
from tasklette.services.errors import Invalid
from tasklette.services.permissions import Actor

# The list-view parameters a view keeps, in the order its query string lists them.
VIEW_PARAMS = tuple(name for name in schemas.TaskListQuery.model_fields if name != "cursor")


def _db(request: Request) -> Any:
    return request.app.state.db


def view_query(raw: str) -> str:
    """A list-view query string checked as the task list checks it, in a canonical order.

    Empty parameters are dropped; `cursor` (a page, not a view) and unknown names are
    refused with a message naming them.
    """
    values: dict[str, str] = {}
    for key, value in parse_qsl(raw.lstrip("?"), keep_blank_values=True):
        if key == "cursor":
            raise Invalid("a view keeps filters and sort, not a page: leave out cursor",
                          field="query")
        if key in values:
            raise Invalid(f"the parameter {key!r} is given twice", field="query")
        if value.strip():
            values[key] = value.strip()
    try:
        schemas.TaskListQuery.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise Invalid(f"{where}: {error['msg']}", field="query") from None
    return urlencode([(name, values[name]) for name in VIEW_PARAMS if name in values])


async def search_all(request: Request, actor: Actor, query: schemas.SearchQuery) -> Any:
    return await search.search(_db(request), actor, query.q, query.project, query.limit,
                               query.offset)


async def search_project(request: Request, actor: Actor,
                         query: schemas.ProjectSearchQuery) -> Any:
    return await search.search(_db(request), actor, query.q,
                               request.path_params["project_id"], query.limit, query.offset)


async def list_views(request: Request, actor: Actor) -> Any:
    return await saved_views.list_for_project(_db(request), actor,
                                              request.path_params["project_id"])


async def create_view(request: Request, actor: Actor, body: schemas.SavedViewCreate) -> Any:
    return await saved_views.create(_db(request), actor, request.path_params["project_id"],
                                    body.name, view_query(body.query))


async def get_view(request: Request, actor: Actor) -> Any:
    return await saved_views.get(_db(request), actor, request.path_params["view_id"])


async def update_view(request: Request, actor: Actor, body: schemas.SavedViewUpdate) -> Any:
    query = None if body.query is None else view_query(body.query)
    return await saved_views.update(_db(request), actor, request.path_params["view_id"],
                                    body.name, query)


async def delete_view(request: Request, actor: Actor) -> None:
    await saved_views.delete(_db(request), actor, request.path_params["view_id"])
