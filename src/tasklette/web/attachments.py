"""Attachments in the web UI: the task's file list, downloads, and the form fallbacks.

Browsers with scripts upload through the API (static/js/attachments.js, one request
per file, with a progress bar) and then fetch the list from here. Without scripts,
the upload form posts to this module and comes back to the task.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api import attachments as api_attachments
from tasklette.api.http import Problem
from tasklette.blobs.sniff import is_inline_image
from tasklette.services import attachments, permissions, projects, tasks
from tasklette.services.permissions import Actor
from tasklette.services.sessions import Session
from tasklette.storage.database import Row
from tasklette.web.auth import check_csrf_token, require_session
from tasklette.web.board import MONTHS, card_view, is_htmx, today_iso
from tasklette.web.pages import read_form, redirect, render

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


class _Nothing(BaseModel):
    """A form with no fields of its own (only the CSRF token)."""


def human_size(size: int) -> str:
    """`12 bytes`, `3.4 MiB`: a size as a person reads it."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return "1 byte" if size == 1 else f"{size} bytes"
    return f"{value:.1f} {_UNITS[unit]}".replace(".0 ", " ")


def _when(iso: str) -> str:
    return f"{int(iso[8:10])} {MONTHS[int(iso[5:7]) - 1]} {iso[:4]}, {iso[11:16]} UTC"


def _view(row: Row) -> Row:
    """What the list shows of an attachment besides its fields."""
    row["size_text"] = human_size(row["size"])
    row["when"] = _when(row["created_at"])
    row["is_image"] = is_inline_image(row["content_type"])
    row["uploader"] = (row["uploader_display_name"] or row["uploader_username"]
                       or "a former member")
    stem, dot, ext = row["filename"].rpartition(".")
    row["ext"] = ext[:4].upper() if dot and stem else "FILE"
    return row


async def detail_context(request: Request, actor: Actor, task_id: int) -> dict[str, Any]:
    """What the task's detail needs to show its attachments (tasks/_attachments.html)."""
    rows = await attachments.list_for_task(request.app.state.db, actor, task_id)
    settings = request.app.state.settings
    return {"attachments": [_view(row) for row in rows],
            "attachment_limits": {
                "max_file_bytes": settings.attachment_max_file_bytes,
                "max_file_text": human_size(settings.attachment_max_file_bytes)}}


async def _fragment(request: Request, session: Session, task_id: int) -> Response:
    """The task's attachments section; from the board's dialog, its card out of band."""
    db, actor = request.app.state.db, session.actor
    task = await tasks.get(db, actor, task_id)
    project = await projects.get(db, actor, task["project_id"])
    card = None
    if request.headers.get("x-tasklette-board") and task["parent_task_id"] is None:
        card = card_view(dict(task), today_iso())
    return render(request, "tasks/_attachments.html", {
        "task": task, "can_edit": permissions.can_edit(project["role"]),
        "attachments_card": card, **await detail_context(request, actor, task_id)})


async def attachments_fragment(request: Request) -> Response:
    session = await require_session(request)
    return await _fragment(request, session, request.path_params["task_id"])


async def upload_form(request: Request) -> Response:
    """The upload form without scripts: store the files, then back to the task."""
    session = await require_session(request)
    task_id = request.path_params["task_id"]

    def check_token(fields: dict[str, str]) -> None:
        check_csrf_token(request, session, fields.get("csrf_token"))

    try:
        await api_attachments.receive_files(request, session.actor, task_id, check_token)
    except Problem as exc:
        return render(request, "error.html", {"status": exc.status, "title": exc.title,
                                              "detail": exc.detail[:1].upper()
                                              + exc.detail[1:] + "."}, status=exc.status)
    return redirect(f"/tasks/{task_id}#attachments", request)


async def download(request: Request) -> Response:
    session = await require_session(request)
    return await api_attachments.blob_response(request, session.actor,
                                               request.path_params["attachment_id"])


async def inline(request: Request) -> Response:
    """An image attachment to show in the page (thumbnails); other files are 404."""
    session = await require_session(request)
    return await api_attachments.blob_response(request, session.actor,
                                               request.path_params["attachment_id"],
                                               inline=True)


async def delete(request: Request) -> Response:
    session = await require_session(request)
    await read_form(request, _Nothing)
    removed = await attachments.delete(request.app.state.db, session.actor,
                                       request.path_params["attachment_id"])
    if is_htmx(request):
        return await _fragment(request, session, removed["task_id"])
    return redirect(f"/tasks/{removed['task_id']}#attachments", request)
