"""The baselines of the API benchmark: bare Starlette, one small JSON endpoint.

It is served with exactly the uvicorn settings `tasklette serve` uses (see
src/tasklette/cli.py), so the only difference the benchmark measures is Tasklette's
own work: routing, authentication, validation, SQLite and serialisation.

    python bench/bare_app.py PORT [HOST] [--workers N] [--pages PAGES_JSON]

With --workers N (N > 1) it is served as `tasklette serve --workers N` serves:
uvicorn's worker processes, each importing the app from this file.

With --pages PAGES_JSON (a JSON object: project id -> the body Tasklette answered to
`GET /api/v1/projects/{id}/tasks?limit=100`) it also serves that path from memory:
the page, parsed once at start, re-serialised per request by Starlette's
`JSONResponse`. That is the "same page from memory" baseline of the list scenario:
what Starlette alone costs to answer it, with no database, authentication or
hydration.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "bare-starlette", "version": 1})


PAGES: dict[int, Any] = {}  # project id -> its first page of tasks


def load_pages(path: str) -> None:
    with open(path, "rb") as file:
        PAGES.update({int(pid): page for pid, page in json.load(file).items()})


# Worker processes import this module: main() passes the file on in the environment.
if os.environ.get("BARE_APP_PAGES"):
    load_pages(os.environ["BARE_APP_PAGES"])


async def task_page(request: Request) -> JSONResponse:
    return JSONResponse(PAGES[request.path_params["project_id"]])


app = Starlette(routes=[Route("/", hello), Route("/healthz", hello),
                        Route("/api/v1/projects/{project_id:int}/tasks", task_page)])


def main() -> None:
    argv = sys.argv[1:]
    if "--pages" in argv:
        at = argv.index("--pages")
        os.environ["BARE_APP_PAGES"] = argv[at + 1]
        load_pages(argv[at + 1])
        del argv[at:at + 2]
    workers = 1
    if "--workers" in argv:
        at = argv.index("--workers")
        workers = int(argv[at + 1])
        del argv[at:at + 2]
    port = int(argv[0]) if argv else 8001
    host = argv[1] if len(argv) > 1 else "127.0.0.1"
    # The same arguments as `tasklette serve` with default settings (1 worker).
    # The loop follows TASKLETTE_EVENT_LOOP exactly as `tasklette serve` does.
    from tasklette.settings import load_settings

    common: dict[str, Any] = dict(host=host, port=port, log_level="info", access_log=False,
                  loop=load_settings().event_loop, proxy_headers=True, server_header=False,
                  timeout_graceful_shutdown=10)
    if workers == 1:
        uvicorn.run(app, **common)
    else:  # worker processes import the app by name, as `tasklette serve --workers` does
        uvicorn.run("bare_app:app", workers=workers, app_dir=str(Path(__file__).parent),
                    **common)


if __name__ == "__main__":
    main()
