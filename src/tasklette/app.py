"""The Starlette application: one factory, one route table, one lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

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
from tasklette.blobs.open import open_store
from tasklette.headers import SecurityHeaders
from tasklette.live.broker import Broker
from tasklette.live.feeds import open_feed
from tasklette.live.guard import StreamGuard
from tasklette.live.notices import NoticeFollower
from tasklette.live.signals import close_streams_on_signals
from tasklette.logs import RequestLog
from tasklette.services import sessions
from tasklette.services.blob_garbage import Sweeper
from tasklette.services.errors import ServiceError
from tasklette.services.job_runner import HandlerTable, JobRunner, built_in_handlers
from tasklette.settings import Settings, load_settings
from tasklette.storage.database import DatabaseUnavailable, TransientError, UnstorableText
from tasklette.storage.migrations import latest_version
from tasklette.storage.open import claim_server, connect, schema_version
from tasklette.web import errors as web_errors
from tasklette.web.assets import Assets
from tasklette.web.auth import CSRFMiddleware, SignInRequired, redirect_to_sign_in
from tasklette.web.markdown import RenderCache
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
    """The process is up (for a liveness probe)."""
    return http.JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The process can serve: the database answers and its schema is this code's."""
    try:
        version = await asyncio.wait_for(schema_version(request.app.state.db), 2)
    except Exception as exc:  # any failure to reach the database means not ready
        return http.problem_response(503, "Not ready",
                                     f"the database cannot be reached: {type(exc).__name__}")
    expected = latest_version()
    if version != expected:
        return http.problem_response(
            503, "Not ready", f"the database is at schema version {version}, this Tasklette "
                              f"needs {expected}: run `tasklette migrate`")
    return http.JSON({"status": "ready", "schema_version": version})


def settle_memory() -> None:
    """Once started: move what start-up made out of the garbage collector's way.

    Modules, templates and settings live as long as the process; frozen, the
    collector stops walking them on every full collection. With thousands of open
    event streams, the young generations are collected less often too: each pass
    over a big heap stalls every stream (measured by bench/fanout_bench.py).
    What start-up freed (imports, migrations, the OpenAPI document's making) goes back
    to the system: glibc's malloc keeps freed memory otherwise (about 3 MiB of an
    idle server's 60, measured by bench/idle_rss_bench.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    _return_free_memory()


def _return_free_memory() -> None:
    """glibc's malloc_trim(0), where the C library is glibc (elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


@asynccontextmanager
async def _serving(app: Starlette, settings: Settings,
                   job_handlers: HandlerTable) -> AsyncIterator[None]:
    """Open the database, blob store, broker, feed, guard, sweeper, job runner and session
    purge; close them after."""
    app.state.db = db = await connect(settings)
    app.state.blobs = blobs = await open_store(settings)  # sweeps crashed uploads
    app.state.broker = broker = Broker(queue_limit=settings.stream_queue_limit)
    feed = open_feed(settings, db, broker)
    await feed.start()
    notices = NoticeFollower(db, broker, postgres_url=settings.database_url)
    await notices.start()
    guard = StreamGuard(db, broker, settings.stream_heartbeat_seconds,
                        timedelta(minutes=settings.session_idle_minutes))
    await guard.start()
    sweeper = Sweeper(db, blobs, settings.blob_grace_seconds)
    sweeper.start()  # at once, for what a crash left, then every few seconds
    app.state.jobs = runner = JobRunner(db, job_handlers(db, settings),
                                        concurrency=settings.job_concurrency,
                                        lease_seconds=settings.job_lease_seconds)
    runner.start()
    undo_signals = close_streams_on_signals(broker)
    purging = asyncio.create_task(sessions.purge_every(
        db, timedelta(minutes=settings.session_idle_minutes),
        settings.purge_interval_seconds))
    settle_memory()
    try:
        yield
    finally:
        purging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purging
        undo_signals()
        broker.close_all("the server is shutting down")
        await guard.stop()
        await feed.stop()
        await notices.stop()
        await sweeper.stop()
        await runner.stop()
        await db.close()
        await blobs.close()


def create_app(settings: Settings | None = None,
               job_handlers: HandlerTable = built_in_handlers) -> Starlette:
    """Build a Tasklette application for `settings` (default: from the environment);
    its job runner runs the handlers `job_handlers(db, settings)` gives."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        release = claim_server(settings)
        try:
            async with _serving(app, settings, job_handlers):
                yield
        finally:
            release()

    assets = Assets()
    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
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
            Middleware(RequestLog, access_log=settings.access_log),
            Middleware(CompressMiddleware, minimum_size=1024),
            Middleware(SecurityHeaders),
            Middleware(CSRFMiddleware),
        ],
        exception_handlers={
            http.Problem: http.handle_problem,
            ServiceError: web_errors.handle_service_error,
            TransientError: web_errors.handle_busy,
            UnstorableText: web_errors.handle_unstorable_text,
            HTTPException: web_errors.handle_http_exception,
            SignInRequired: redirect_to_sign_in,
            DatabaseUnavailable: web_errors.handle_database_unavailable,
            Exception: http.handle_unexpected,
        },
    )
    app.state.settings = settings
    app.state.assets = assets
    app.state.markdown = RenderCache(settings.markdown_cache_bytes)
    app.state.openapi = openapi_document()
    return app


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` (used by `tasklette serve --workers N`)."""
    return create_app(load_settings())
