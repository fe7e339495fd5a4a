"""API views for importing a project from a file and exporting one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tasklette.api import schemas
from tasklette.api.http import read_body
from tasklette.services import exporting, importing
from tasklette.services.permissions import Actor


async def import_project(request: Request, actor: Actor, query: schemas.ImportQuery) -> Any:
    """The file is the request body, as it is (JSON or CSV); a new project is made of it."""
    data = await read_body(request, request.app.state.settings.max_import_bytes)
    result = await importing.import_file(request.app.state.db, actor,
                                         request.path_params["source"], data, query.project)
    return result.as_dict()


def download(content: bytes, media_type: str, name: str) -> Response:
    """A file to save, named `name`."""
    return Response(content, media_type=media_type, headers={
        "content-disposition": f'attachment; filename="{name}"',
        "cache-control": "private, no-store"})


async def export_project(request: Request, actor: Actor, query: schemas.ExportQuery
                         ) -> Response:
    data = await exporting.project_data(request.app.state.db, actor,
                                        request.path_params["project_id"])
    if query.format == "csv":
        return download(exporting.to_csv(data), "text/csv; charset=utf-8",
                        exporting.file_name(data, "csv"))
    return download(exporting.to_json(data), "application/json",
                    exporting.file_name(data, "json"))
