"""The baseline of the fan-out benchmark: bare Starlette streaming, fan-out in memory.

    python bench/bare_sse_app.py PORT [HOST]

- `GET /events`: Starlette's own `StreamingResponse` (text/event-stream) that sends a
  `retry:` line and an `event: presence` frame without id, as Tasklette's project
  stream does, then every published frame. One `asyncio.Queue` per subscriber.
- `POST /publish?bytes=N`: makes one frame shaped like Tasklette's `task.created`
  (`id:`, `event:`, one line of JSON `data` with `created_at` set now, padded so the
  whole frame is about N bytes), puts it on every subscriber's queue and answers
  `{"id": ..., "created_at": ..., "bytes": ..., "subscribers": ...}`.
- `GET /healthz`: 200.

Served with exactly the uvicorn settings `tasklette serve` uses (as bench/bare_app.py
is), so bench/fanout_bench.py measures only what Tasklette adds: authentication, the
SQLite commit, its broker and stream generators, and its middleware.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

SUBSCRIBERS: set[asyncio.Queue[bytes]] = set()
LAST_ID = 0
RETRY = b"retry: 1000\n\n"
PRESENCE = b'event: presence\ndata: {"project_id":1,"user_ids":[]}\n\n'


def now_iso() -> str:
    """The same clock and format as Tasklette's `created_at` (tasklette.clock.now_iso)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def frame(event_id: int, created_at: str, size: int) -> bytes:
    head = b"id: %d\nevent: task.created\ndata: " % event_id
    data = {"id": event_id, "project_id": 1, "actor_id": 1, "kind": "task.created",
            "entity_type": "task", "entity_id": event_id, "task_id": event_id,
            "payload": {"task": {"id": event_id, "title": ""}}, "created_at": created_at}
    pad = max(0, size - len(head) - len(orjson.dumps(data)) - 2)
    data["payload"]["task"]["title"] = "x" * pad
    return head + orjson.dumps(data) + b"\n\n"


async def events(request: Request) -> StreamingResponse:
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def stream() -> AsyncIterator[bytes]:
        SUBSCRIBERS.add(queue)
        try:
            yield RETRY
            yield PRESENCE
            while True:
                yield await queue.get()
        finally:
            SUBSCRIBERS.discard(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-store"})


async def publish(request: Request) -> JSONResponse:
    global LAST_ID
    LAST_ID += 1
    created_at = now_iso()
    data = frame(LAST_ID, created_at, int(request.query_params.get("bytes", "660")))
    for queue in SUBSCRIBERS:
        queue.put_nowait(data)
    return JSONResponse({"id": LAST_ID, "created_at": created_at, "bytes": len(data),
                         "subscribers": len(SUBSCRIBERS)}, status_code=201)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/events", events), Route("/publish", publish, methods=["POST"]),
                        Route("/healthz", healthz)])


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8002
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    # The same arguments as `tasklette serve` with default settings (1 worker), as in
    # bench/bare_app.py; the loop follows TASKLETTE_EVENT_LOOP as `tasklette serve` does.
    from tasklette.settings import load_settings

    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False,
                loop=load_settings().event_loop, proxy_headers=True, server_header=False,
                timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
