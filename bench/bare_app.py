"""The baseline of the API benchmark: bare Starlette, one small JSON endpoint.

It is served with exactly the uvicorn settings `tasklette serve` uses (see
src/tasklette/cli.py), so the only difference the benchmark measures is Tasklette's
own work: routing, authentication, validation, SQLite and serialisation.

    python bench/bare_app.py PORT [HOST]
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "bare-starlette", "version": 1})


app = Starlette(routes=[Route("/", hello), Route("/healthz", hello)])


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8001
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    # The same arguments as `tasklette serve` with default settings (1 worker).
    # The loop follows TASKLETTE_EVENT_LOOP exactly as `tasklette serve` does.
    from tasklette.settings import load_settings

    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False,
                loop=load_settings().event_loop, proxy_headers=True, server_header=False,
                timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
