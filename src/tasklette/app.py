"""The Starlette application: one factory, one route table, one lifespan."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from tasklette import __version__
from tasklette.api import http
from tasklette.api.openapi import openapi_document
from tasklette.api.routes import api_routes
from tasklette.headers import SecurityHeaders
from tasklette.services.errors import ServiceError
from tasklette.settings import Settings, load_settings
from tasklette.storage.open import open_database

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


async def openapi_json(request: Request) -> Response:
    return http.JSON(request.app.state.openapi)


async def api_docs(request: Request) -> Response:
    return templates.TemplateResponse(request, "api_docs.html",
                                      {"doc": request.app.state.openapi})


async def home(request: Request) -> Response:
    return templates.TemplateResponse(request, "home.html", {"version": __version__})


async def healthz(request: Request) -> Response:
    return http.JSON({"status": "ok"})


async def not_found_or_problem(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return await http.handle_http_exception(request, exc)
    assert isinstance(exc, HTTPException)
    return Response(f"{exc.status_code} {exc.detail}\n", status_code=exc.status_code,
                    media_type="text/plain", headers=exc.headers)


def create_app(settings: Settings | None = None) -> Starlette:
    """Build a Tasklette application for `settings` (default: from the environment)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.db = open_database(settings)
        try:
            yield
        finally:
            await app.state.db.close()

    routes: list[BaseRoute] = [
        Route("/", home, name="home"),
        Route("/healthz", healthz),
        Route("/api/v1/openapi.json", openapi_json),
        Route("/api/docs", api_docs, name="api_docs"),
        *api_routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            http.Problem: http.handle_problem,
            ServiceError: http.handle_service_error,
            HTTPException: not_found_or_problem,
            sqlite3.OperationalError: http.handle_database_error,
        },
    )
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.openapi = openapi_document()
    return app


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` (used by `tasklette serve --workers N`)."""
    return create_app(load_settings())
