"""Importing a project from an uploaded file (the projects page) and what it made."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from tasklette.services import importing
from tasklette.services.errors import Invalid, TooLarge
from tasklette.web.auth import check_csrf_token, require_session
from tasklette.web.pages import FORM_MAX_BYTES, limit_body, render


def _page(request: Request, status: int, **context: Any) -> Response:
    return render(request, "import/result.html", {
        "nav": "projects", "values": {}, **context}, status=status)


async def import_upload(request: Request) -> Response:
    """POST /projects/import: a multipart form with `file`, `source` and `name`."""
    session = await require_session(request)
    limit = request.app.state.settings.max_import_bytes
    too_large = f"The file is larger than the import limit of {limit // 1_048_576} MiB."
    # The body may hold the file and a few short fields; past that it is not read on.
    try:
        limited = limit_body(request, limit + FORM_MAX_BYTES)
        # The uploaded file is spooled to disk by the parser; the block closes (removes) it.
        async with limited.form(max_files=1, max_fields=8,
                                max_part_size=FORM_MAX_BYTES) as form:
            token = form.get("csrf_token")
            check_csrf_token(request, session, token if isinstance(token, str) else None)
            values = {key: value for key, value in form.items() if isinstance(value, str)}
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return _page(request, 422, values=values, error="Choose the file to import.")
            file_name = upload.filename
            data = await upload.read(limit + 1)
    except TooLarge:
        return _page(request, 413, error=too_large)
    if len(data) > limit:
        return _page(request, 413, values=values, error=too_large)
    source = values.get("source", "auto")
    if source == "auto":
        source = importing.detect(data)
    name = values.get("project", "").strip()[:100] or None
    try:
        result = await importing.import_file(request.app.state.db, session.actor, source,
                                             data, name)
    except Invalid as exc:  # InvalidImport, or a value refused while writing (a colour)
        return _page(request, 422, values=values,
                     error=f"{file_name} could not be imported: {exc.detail}.")
    return _page(request, 201, result=result, lines=result.lines())
