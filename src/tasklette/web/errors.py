"""Errors as people see them: problem+json for the API, a readable page for the UI."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api import http
from tasklette.services.errors import Busy, Invalid, ServiceError
from tasklette.storage.database import TransientError, UnstorableText
from tasklette.web.pages import render


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


async def handle_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if not _wants_page(request):
        return await http.handle_service_error(request, exc)
    if request.headers.get("hx-request"):
        # htmx swaps only 2xx by default: the message goes to the page's toast instead.
        return Response(exc.detail, status_code=exc.status, media_type="text/plain",
                        headers={"hx-reswap": "none"})
    return render(request, "error.html", {"status": exc.status, "title": exc.title,
                                          "detail": exc.detail}, status=exc.status)


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    """503 and Retry-After, as problem+json for the API and a page (or toast) for people."""
    if not _wants_page(request):
        return await http.handle_database_unavailable(request, exc)
    http.log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                     exc)
    detail = "The database is busy or out of reach. Try again in a moment."
    if request.headers.get("hx-request"):
        return Response(detail, status_code=503, media_type="text/plain",
                        headers={"hx-reswap": "none", **http.RETRY_AFTER})
    return render(request, "error.html", {"status": 503, "title": "Try again in a moment",
                                          "detail": detail},
                  status=503, headers=http.RETRY_AFTER)


async def handle_busy(request: Request, exc: Exception) -> Response:
    """A change that kept deadlocking with others after every retry: 503, try again."""
    assert isinstance(exc, TransientError)
    return await handle_service_error(request, Busy(
        "the database is busy with other changes at the same moment; try again"))


async def handle_unstorable_text(request: Request, exc: Exception) -> Response:
    """Text with a NUL that slipped past the forms' checks: 422, never a 500."""
    assert isinstance(exc, UnstorableText)
    return await handle_service_error(request, Invalid(
        "text must not contain the NUL character (U+0000)"))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not _wants_page(request):
        return await http.handle_http_exception(request, exc)
    detail = ("There is no page at this address." if exc.status_code == 404
              else str(exc.detail))
    return render(request, "error.html", {"status": exc.status_code,
                                          "title": "Not found" if exc.status_code == 404
                                          else "Error", "detail": detail},
                  status=exc.status_code, headers=exc.headers)
