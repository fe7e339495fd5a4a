"""The Starlette application: one factory, one route table, one lifespan."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette_compress import CompressMiddleware, remove_compress_type

from tasklette.api import http
from tasklette.api.openapi import openapi_document
from tasklette.api.routes import api_routes
from tasklette.headers import SecurityHeaders
from tasklette.services.errors import ServiceError
from tasklette.settings import Settings, load_settings
from tasklette.storage.open import connect
from tasklette.web import errors as web_errors
from tasklette.web.assets import Assets
from tasklette.web.auth import CSRFMiddleware, SignInRequired, redirect_to_sign_in
from tasklette.web.pages import render
from tasklette.web.routes import web_routes

# Event streams are flushed event by event: never compress or buffer them.
remove_compress_type("text/event-stream")


async def openapi_json(request: Request) -> Response:
    return http.JSON(request.app.state.openapi)


async def api_docs(request: Request) -> Response:
    return render(request, "api_docs.html", {"doc": request.app.state.openapi})


async def favicon(request: Request) -> Response:
    return RedirectResponse(request.app.state.assets.url("favicon.svg"), status_code=301)


async def healthz(request: Request) -> Response:
    return http.JSON({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    """Build a Tasklette application for `settings` (default: from the environment)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.db = await connect(settings)
        try:
            yield
        finally:
            await app.state.db.close()

    assets = Assets()
    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/favicon.ico", favicon),
        Route("/api/v1/openapi.json", openapi_json),
        Route("/api/docs", api_docs, name="api_docs"),
        *api_routes(),
        *web_routes(),
        assets.route(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(CompressMiddleware, minimum_size=1024),
            Middleware(SecurityHeaders),
            Middleware(CSRFMiddleware),
        ],
        exception_handlers={
            http.Problem: http.handle_problem,
            ServiceError: web_errors.handle_service_error,
            HTTPException: web_errors.handle_http_exception,
            SignInRequired: redirect_to_sign_in,
            sqlite3.OperationalError: http.handle_database_error,
            Exception: http.handle_unexpected,
        },
    )
    app.state.settings = settings
    app.state.assets = assets
    app.state.openapi = openapi_document()
    return app


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` (used by `tasklette serve --workers N`)."""
    return create_app(load_settings())
