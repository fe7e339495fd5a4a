"""Importing a project from an uploaded file (the projects page) and what it made."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from tasklette.numbers import int_or_none
from tasklette.services import importing
from tasklette.services.errors import Invalid
from tasklette.web.auth import check_csrf_token, require_session
from tasklette.web.pages import render


def _page(request: Request, status: int, **context: Any) -> Response:
    return render(request, "import/result.html", {
        "nav": "projects", "values": {}, **context}, status=status)


async def import_upload(request: Request) -> Response:
    """POST /projects/import: a multipart form with `file`, `source` and `name`."""
    session = await require_session(request)
    limit = request.app.state.settings.max_import_bytes
    declared = request.headers.get("content-length")
    length = None if declared is None else int_or_none(declared.strip(), max_digits=19)
    if declared is not None and length is None:
        return _page(request, 400, error="The request's Content-Length header is not a "
                                         "number.")
    if length is not None and length > limit + 65_536:
        return _page(request, 413, error=f"The file is larger than the import limit of "
                                         f"{limit // 1_048_576} MiB.")
    # The uploaded file is spooled to disk by the parser; the block closes (removes) it.
    async with request.form(max_files=1, max_fields=8) as form:
        token = form.get("csrf_token")
        check_csrf_token(request, session, token if isinstance(token, str) else None)
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _page(request, 422, values=values, error="Choose the file to import.")
        file_name = upload.filename
        data = await upload.read(limit + 1)
    if len(data) > limit:
        return _page(request, 413, values=values, error=f"The file is larger than the "
                     f"import limit of {limit // 1_048_576} MiB.")
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
