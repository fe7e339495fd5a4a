"""API views for attachments: streamed uploads, and downloads with ranges.

The web UI shares `receive_files` and `blob_response`, so that both surfaces take
files in, and hand them out, by the same rules and headers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from tasklette.api.http import JSON, Problem, problem_response
from tasklette.blobs.limits import UploadLimits, UploadRefused
from tasklette.blobs.sniff import is_inline_image
from tasklette.blobs.store import BlobStore
from tasklette.headers import declared_length
from tasklette.numbers import int_or_none
from tasklette.services import attachments
from tasklette.services.errors import NotFound
from tasklette.services.permissions import Actor
from tasklette.settings import Settings
from tasklette.storage.database import Row

log = logging.getLogger("tasklette.attachments")

# Whatever a file holds, it is never run as a page of this site.
FILE_CSP = ("sandbox; default-src 'none'; img-src 'self'; media-src 'self'; "
            "style-src 'unsafe-inline'")


def _db(request: Request) -> Any:
    return request.app.state.db


def _store(request: Request) -> BlobStore:
    return request.app.state.blobs  # type: ignore[no-any-return]


def upload_limits(settings: Settings) -> UploadLimits:
    return UploadLimits(max_file_bytes=settings.attachment_max_file_bytes,
                        max_request_bytes=settings.attachment_max_request_bytes,
                        max_parts=settings.attachment_max_parts)


# --- upload -------------------------------------------------------------------------------


def _check_headers(request: Request, limits: UploadLimits) -> None:
    """415 for a body that is not multipart/form-data; 413 for a declared length over
    the limit, before a byte of the body is read."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise Problem(415, "Unsupported media type",
                      "send the files as multipart/form-data, one part per file")
    length = declared_length(request.headers)
    if length is not None and length > limits.max_request_bytes:
        raise Problem(413, "Content too large",
                      f"the request body ({length} bytes) is over the limit of "
                      f"{limits.max_request_bytes} bytes per upload")


async def receive_files(request: Request, actor: Actor, task_id: int,
                        check_fields: Callable[[dict[str, str]], None] | None = None,
                        ) -> list[Row]:
    """Stream the request's files into the blob store and record them on the task.

    Refusals are service errors (404, 403) or Problems (415, 413, 400, 422);
    `check_fields` may refuse the form by its text fields before anything is recorded.
    """
    limits = upload_limits(request.app.state.settings)
    db, store = _db(request), _store(request)
    # Who may upload first: a non-member learns nothing, whatever the request holds.
    await attachments.require_uploader(db, actor, task_id)
    _check_headers(request, limits)
    # Imported with the first upload: the parser brings smart_open and boto3 (37 MiB).
    from tasklette.blobs.upload import MultipartUpload

    try:
        upload = MultipartUpload(store, request.headers, limits)
    except UploadRefused as exc:
        raise Problem(exc.status, exc.title, exc.detail) from None
    async with upload:
        try:
            form = await upload.read(request.stream())
        except UploadRefused as exc:
            raise Problem(exc.status, exc.title, exc.detail) from None
        except ClientDisconnect:
            log.info("upload to task %s cut off by the client", task_id)
            raise Problem(400, "Bad request", "the upload was cut off before its end") from None
        if check_fields is not None:
            check_fields(form.fields)
        # A form's file input left empty still sends a part with an empty filename.
        files = [attachments.NewFile(part.filename, part.spool) for part in form.files
                 if part.spool is not None and (part.filename or part.size)]
        if not files:
            raise Problem(422, "Invalid input", "the request holds no file: send each file "
                          "as a multipart/form-data part with a filename",
                          errors=[{"field": "file", "message": "no file was sent"}])
        return await attachments.add(db, store, actor, task_id, files)


async def upload(request: Request, actor: Actor) -> JSON:
    created = await receive_files(request, actor, request.path_params["task_id"])
    return JSON(created, status_code=201)


async def list_attachments(request: Request, actor: Actor) -> Any:
    return await attachments.list_for_task(_db(request), actor, request.path_params["task_id"])


async def delete_attachment(request: Request, actor: Actor) -> None:
    await attachments.delete(_db(request), actor, request.path_params["attachment_id"])


# --- download -----------------------------------------------------------------------------


class RangeNotSatisfiable(Exception):
    pass


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The (start, end) bytes a one-range `Range` header asks for, end excluded.

    None means "send the whole file": a unit other than bytes, several ranges, or a
    malformed range (RFC 9110 lets a server ignore those). RangeNotSatisfiable when
    the range lies wholly past the end.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = (part.strip() for part in spec.partition("-"))
    start, stop = int_or_none(first, max_digits=19), int_or_none(last, max_digits=19)
    if not dash or (first and start is None) or (last and stop is None):
        return None
    if start is None:  # the last N bytes
        if not stop or size == 0:
            raise RangeNotSatisfiable()
        return max(size - stop, 0), size
    end = min(stop + 1, size) if stop is not None else size
    if start >= size:
        raise RangeNotSatisfiable()
    if end <= start:
        return None
    return start, end


def content_disposition(kind: str, filename: str) -> str:
    """`kind; filename="ascii"; filename*=UTF-8''…` (RFC 6266 and RFC 5987)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_"
                       for ch in filename) or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def _empty() -> AsyncIterator[bytes]:
    return
    yield


async def blob_response(request: Request, actor: Actor, attachment_id: int, *,
                        inline: bool = False) -> Response:
    """The attachment's bytes (whole, or one range), as a download or an inline image."""
    db, store = _db(request), _store(request)
    row = await attachments.get(db, actor, attachment_id)
    if inline and not is_inline_image(row["content_type"]):
        raise NotFound("only images are shown inline; download this file instead")
    etag = f'"{row["sha256"]}"'
    headers = {
        "etag": etag, "cache-control": "private, no-cache", "accept-ranges": "bytes",
        "content-disposition": content_disposition("inline" if inline else "attachment",
                                                   row["filename"]),
        "content-security-policy": FILE_CSP, "x-content-type-options": "nosniff",
        "cross-origin-resource-policy": "same-origin",
    }
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    stat = await store.stat(row["sha256"])
    if stat is None:
        log.error("attachment %s: blob %s is missing from the store", row["id"], row["sha256"])
        raise Problem(500, "Internal server error", "the file's contents are missing from "
                      "the server; an administrator can run `tasklette blobs check`")
    start, end, status = 0, stat.size, 200
    wanted = request.headers.get("range")
    if wanted is not None and request.headers.get("if-range", etag) == etag:
        try:
            found = byte_range(wanted, stat.size)
        except RangeNotSatisfiable:
            return problem_response(416, "Range not satisfiable",
                                    f"the file has {stat.size} bytes; ask for a range "
                                    "that starts inside it",
                                    headers={"content-range": f"bytes */{stat.size}"})
        if found is not None:
            (start, end), status = found, 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{stat.size}"
    headers["content-length"] = str(end - start)
    body = _empty() if request.method == "HEAD" else store.read(row["sha256"], start, end)
    return StreamingResponse(body, status_code=status, headers=headers,
                             media_type=row["content_type"])


async def download(request: Request, actor: Actor) -> Response:
    return await blob_response(request, actor, request.path_params["attachment_id"])
