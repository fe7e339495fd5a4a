"""The API's route table: one explicit list that serves requests and writes the OpenAPI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tasklette.api import (
    account,
    attachments,
    calendar,
    events,
    import_export,
    notifications,
    projects,
    schemas,
    search,
    tasks,
    watching,
)
from tasklette.api import notification_schemas as N
from tasklette.api.http import JSON, authenticate, bears_token, parse_body, parse_query


class IdConvertor(Convertor[int]):
    """A positive id that fits a 64-bit column; anything longer is simply not a match."""

    regex = "[1-9][0-9]{0,17}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API: how to serve it and how to describe it."""

    method: str
    path: str
    view: Callable[..., Awaitable[Any]]
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False
    status: int = 200
    errors: tuple[int, ...] = ()
    stream: bool = False  # answered with text/event-stream
    if_match: bool = False  # reads an If-Match header naming the task version
    raw_body: dict[str, Any] | None = None  # a body the view reads itself: its media types
    snapshot: bool = False  # only reads: a token's request reads one snapshot throughout

    def handler(self) -> Callable[[Request], Awaitable[Response]]:
        """The ASGI request handler: authenticate, parse, call the view, render."""
        view, body_model, query_model, status = self.view, self.body, self.query, self.status
        snapshot = self.snapshot

        async def endpoint(request: Request) -> Response:
            if snapshot and bears_token(request):
                # The token's check and the view's reads: one read transaction, on one
                # connection. (A browser session may be written to as it is checked.)
                async with request.app.state.db.reading():
                    return await respond(request)
            return await respond(request)

        async def respond(request: Request) -> Response:
            actor = await authenticate(request)
            kwargs: dict[str, Any] = {}
            if query_model is not None:
                kwargs["query"] = parse_query(request, query_model)
            if body_model is not None:
                kwargs["body"] = await parse_body(request, body_model)
            # Deadlocks are retried inside the services (storage.database.retried), by
            # unit of work: a view runs once, so a request body is read once.
            result = await view(request, actor, **kwargs)
            if isinstance(result, Response):
                return result
            if status == 204:
                return Response(status_code=204)
            return JSON(result, status_code=status)

        return endpoint


P = "/api/v1/projects/{project_id:id}"
T = "/api/v1/tasks/{task_id:id}"
S = schemas

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/v1/me", account.me, "The user of this token", "account",
             response=S.Me),
    Endpoint("GET", "/api/v1/tokens", account.list_tokens, "List my API tokens", "account",
             response=S.Token, many=True),
    Endpoint("POST", "/api/v1/tokens", account.create_token, "Create an API token (the "
             "secret is shown once)", "account", body=S.TokenCreate,
             response=S.TokenCreated, status=201),
    Endpoint("DELETE", "/api/v1/tokens/{token_id:id}", account.revoke_token,
             "Revoke one of my API tokens", "account", response=S.Token, errors=(404,)),

    Endpoint("GET", "/api/v1/projects", projects.list_projects, "List my projects",
             "projects", response=S.Project, many=True),
    Endpoint("POST", "/api/v1/projects", projects.create_project,
             "Create a project (with columns To do, In progress, Done)", "projects",
             body=S.ProjectCreate, response=S.Project, status=201),
    Endpoint("GET", P, projects.get_project, "Get a project", "projects",
             response=S.Project, errors=(404,)),
    Endpoint("PATCH", P, projects.update_project, "Rename, describe or archive a project "
             "(owners)", "projects", body=S.ProjectUpdate, response=S.Project,
             errors=(403, 404)),
    Endpoint("DELETE", P, projects.delete_project, "Delete a project and all it holds "
             "(owners)", "projects", status=204, errors=(403, 404)),

    Endpoint("GET", P + "/members", projects.list_members, "List members", "members",
             response=S.Member, many=True, errors=(404,)),
    Endpoint("POST", P + "/members", projects.add_member, "Add a member by username "
             "(owners)", "members", body=S.MemberAdd, response=S.Member, status=201,
             errors=(403, 404, 409)),
    Endpoint("PATCH", P + "/members/{username}", projects.update_member,
             "Change a member's role (owners)", "members", body=S.MemberUpdate,
             response=S.Member, errors=(403, 404, 409, 422)),
    Endpoint("DELETE", P + "/members/{username}", projects.remove_member,
             "Remove a member (owners), or leave the project", "members", status=204,
             errors=(403, 404, 409, 422)),

    Endpoint("GET", P + "/columns", projects.list_columns, "List columns in board order",
             "columns", response=S.Column, many=True, errors=(404,)),
    Endpoint("POST", P + "/columns", projects.create_column, "Add a column", "columns",
             body=S.ColumnCreate, response=S.Column, status=201, errors=(403, 404)),
    Endpoint("PATCH", "/api/v1/columns/{column_id:id}", projects.update_column,
             "Rename or reorder a column", "columns", body=S.ColumnUpdate, response=S.Column,
             errors=(403, 404)),
    Endpoint("DELETE", "/api/v1/columns/{column_id:id}", projects.delete_column,
             "Delete a column: empty, or moving its tasks to `move_to`", "columns",
             query=S.ColumnDeleteQuery, status=204, errors=(403, 404, 409)),

    Endpoint("GET", P + "/tasks", tasks.list_tasks, "List tasks with filters, sort and "
             "cursor pagination", "tasks", query=S.TaskListQuery, response=S.TaskPage,
             errors=(404,), snapshot=True),
    Endpoint("POST", P + "/tasks", tasks.create_task, "Create a task or subtask", "tasks",
             body=S.TaskCreate, response=S.Task, status=201, errors=(403, 404)),
    Endpoint("GET", T, tasks.get_task, "Get a task with labels, assignees, subtasks and "
             "comment count (ETag: its version)", "tasks", response=S.Task, errors=(404,),
             snapshot=True),
    Endpoint("PATCH", T, tasks.update_task, "Change a task; name the version you read "
             "(If-Match or `version`)", "tasks", body=S.TaskUpdate, response=S.Task,
             errors=(403, 404, 409, 428), if_match=True),
    Endpoint("DELETE", T, tasks.delete_task, "Delete a task and its subtasks (If-Match: "
             "only if it is still that version)", "tasks", status=204,
             errors=(400, 403, 404, 409), if_match=True),
    Endpoint("POST", T + "/move", tasks.move_task, "Move a task to a column and position",
             "tasks", body=S.TaskMove, response=S.Task, errors=(403, 404)),
    Endpoint("PUT", T + "/labels/{label_id:id}", tasks.attach_label, "Attach a label",
             "labels", response=S.Task, errors=(403, 404)),
    Endpoint("DELETE", T + "/labels/{label_id:id}", tasks.detach_label, "Detach a label",
             "labels", response=S.Task, errors=(403, 404)),
    Endpoint("GET", T + "/activity", tasks.task_activity, "The task's events, newest first",
             "activity", response=S.Event, many=True, errors=(404,)),

    Endpoint("GET", P + "/labels", projects.list_labels, "List labels", "labels",
             response=S.Label, many=True, errors=(404,)),
    Endpoint("POST", P + "/labels", projects.create_label, "Create a label", "labels",
             body=S.LabelCreate, response=S.Label, status=201, errors=(403, 404, 409)),
    Endpoint("GET", "/api/v1/labels/{label_id:id}", projects.get_label, "Get a label",
             "labels", response=S.Label, errors=(404,)),
    Endpoint("PATCH", "/api/v1/labels/{label_id:id}", projects.update_label,
             "Rename or recolour a label", "labels", body=S.LabelUpdate, response=S.Label,
             errors=(403, 404, 409)),
    Endpoint("DELETE", "/api/v1/labels/{label_id:id}", projects.delete_label,
             "Delete a label", "labels", status=204, errors=(403, 404)),

    Endpoint("GET", T + "/comments", tasks.list_comments, "List a task's comments",
             "comments", response=S.Comment, many=True, errors=(404,)),
    Endpoint("POST", T + "/comments", tasks.create_comment, "Comment on a task", "comments",
             body=S.CommentCreate, response=S.Comment, status=201, errors=(403, 404)),
    Endpoint("PATCH", "/api/v1/comments/{comment_id:id}", tasks.edit_comment,
             "Edit my comment", "comments", body=S.CommentCreate, response=S.Comment,
             errors=(403, 404)),
    Endpoint("DELETE", "/api/v1/comments/{comment_id:id}", tasks.delete_comment,
             "Delete my comment (owners: any comment)", "comments", status=204,
             errors=(403, 404)),

    Endpoint("GET", P + "/events", events.project_events, "Follow the project's events live "
             "(Server-Sent Events; resume with `Last-Event-ID` or `?after=`)", "activity",
             query=S.StreamQuery, errors=(404,), stream=True),
    Endpoint("GET", "/api/v1/me/events", events.my_events, "Follow the events that concern "
             "me (assignments, comments on my tasks, membership) across my projects",
             "activity", query=S.StreamQuery, stream=True),
    # --- attachments (api/attachments.py): multipart uploads, downloads with ranges ---
    Endpoint("GET", T + "/attachments", attachments.list_attachments, "List a task's "
             "attachments", "attachments", response=S.Attachment, many=True, errors=(404,)),
    Endpoint("POST", T + "/attachments", attachments.upload, "Upload files: a "
             "multipart/form-data body with one part per file, streamed to disk as it "
             "arrives; 413 over the size limits, 415 for another content type", "attachments",
             response=S.Attachment, many=True, status=201, errors=(400, 403, 404, 413, 415, 422),
             raw_body={"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"], "properties": {"file": {
                     "type": "array", "minItems": 1,
                     "items": {"type": "string", "format": "binary"}}}}}}),
    Endpoint("GET", "/api/v1/attachments/{attachment_id:id}", attachments.download,
             "Download an attachment (Range requests, 416 past the end; ETag: its SHA-256)",
             "attachments", errors=(404,)),
    Endpoint("DELETE", "/api/v1/attachments/{attachment_id:id}",
             attachments.delete_attachment, "Delete an attachment (editors)", "attachments",
             status=204, errors=(403, 404)),

    Endpoint("GET", P + "/activity", projects.list_activity, "The project's events, newest "
             "first", "activity", query=S.ActivityQuery, response=S.EventPage, errors=(404,)),
    # --- search, saved views, import and export, calendar feed (api/search.py,
    # api/import_export.py, api/calendar.py) ---
    Endpoint("GET", "/api/v1/search", search.search_all, "Search tasks in all my projects, "
             "best match first, with highlighted snippets (query syntax: see `q`)", "search",
             query=S.SearchQuery, response=S.SearchPage, errors=(404, 422)),
    Endpoint("GET", P + "/search", search.search_project, "Search tasks in one project",
             "search", query=S.ProjectSearchQuery, response=S.SearchPage, errors=(404, 422)),
    Endpoint("GET", P + "/views", search.list_views, "List the project's saved views",
             "views", response=S.SavedView, many=True, errors=(404,)),
    Endpoint("POST", P + "/views", search.create_view, "Save a list-view filter and sort "
             "under a name (editors)", "views", body=S.SavedViewCreate, response=S.SavedView,
             status=201, errors=(403, 404, 409, 422)),
    Endpoint("GET", "/api/v1/views/{view_id:id}", search.get_view, "Get a saved view",
             "views", response=S.SavedView, errors=(404,)),
    Endpoint("PATCH", "/api/v1/views/{view_id:id}", search.update_view, "Rename a saved "
             "view or change its query (editors)", "views", body=S.SavedViewUpdate,
             response=S.SavedView, errors=(403, 404, 409, 422)),
    Endpoint("DELETE", "/api/v1/views/{view_id:id}", search.delete_view, "Delete a saved "
             "view (editors)", "views", status=204, errors=(403, 404)),
    Endpoint("POST", "/api/v1/imports/{source}", import_export.import_project, "Import a "
             "new project from a file sent as the request body: source trello (board JSON "
             "export), todoist (CSV export) or tasklette (project export)", "import/export",
             query=S.ImportQuery, response=S.ImportResult, status=201, errors=(413, 422),
             raw_body={"application/json": {"schema": {"type": "object"}},
                       "text/csv": {"schema": {"type": "string"}}}),
    Endpoint("GET", P + "/export", import_export.export_project, "Download the project: "
             "JSON with everything (imports back unchanged) or CSV, one row per task",
             "import/export", query=S.ExportQuery, errors=(404,)),
    Endpoint("GET", "/api/v1/me/calendar", calendar.get_calendar, "Whether I have a "
             "calendar feed", "calendar", response=S.CalendarFeed),
    Endpoint("POST", "/api/v1/me/calendar", calendar.create_calendar, "Make a new secret "
             "calendar feed address (the old one stops working); shown once", "calendar",
             response=S.CalendarFeed, status=201),
    Endpoint("DELETE", "/api/v1/me/calendar", calendar.delete_calendar, "Turn my calendar "
             "feed off", "calendar", status=204),
    # --- watching and notifications (api/watching.py, api/notifications.py) ---
    Endpoint("GET", T + "/watch", watching.get_task_watch, "Whether I watch a task",
             "watching", response=N.WatchState, errors=(404,)),
    Endpoint("PUT", T + "/watch", watching.watch_task, "Watch a task: its comments and "
             "changes notify me", "watching", response=N.WatchState, errors=(404,)),
    Endpoint("DELETE", T + "/watch", watching.unwatch_task, "Unwatch a task (even one my "
             "project watch covers)", "watching", response=N.WatchState, errors=(404,)),
    Endpoint("GET", P + "/watch", watching.get_project_watch, "Whether I watch a project",
             "watching", response=N.WatchState, errors=(404,)),
    Endpoint("PUT", P + "/watch", watching.watch_project, "Watch every task of a project",
             "watching", response=N.WatchState, errors=(404,)),
    Endpoint("DELETE", P + "/watch", watching.unwatch_project, "Stop watching a project",
             "watching", response=N.WatchState, errors=(404,)),
    Endpoint("GET", "/api/v1/me/notifications", notifications.list_notifications,
             "My notifications, newest first (only of projects I belong to)", "notifications",
             query=N.NotificationListQuery, response=N.NotificationPage),
    Endpoint("POST", "/api/v1/me/notifications/read", notifications.read_notifications,
             "Mark notifications read: `ids`, or `all: true`; 404 (nothing changed) for an "
             "id that is not mine", "notifications", body=N.NotificationsRead,
             response=N.UnreadCount, errors=(404,)),
)


def _path_route(path: str, endpoints: list[Endpoint]) -> Route:
    """One route for every method of `path`, so a 405's Allow names all of them.

    Starlette answers 405 from the first route whose path matches; with one route per
    operation that would list only that operation's method.
    """
    handlers = {endpoint.method: endpoint.handler() for endpoint in endpoints}
    if "GET" in handlers:
        handlers["HEAD"] = handlers["GET"]

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    name = "+".join(endpoint.view.__name__ for endpoint in endpoints)
    return Route(path, dispatch, methods=list(handlers), name=name)


def api_routes() -> list[BaseRoute]:
    by_path: dict[str, list[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.path, []).append(endpoint)
    return [_path_route(path, endpoints) for path, endpoints in by_path.items()]
