"""The upload benchmark's second baseline: a streaming upload prototype in bare Starlette.

One endpoint that does the essential work of an upload and nothing else: it feeds
`request.stream()` to streaming-form-data's parser, and the file part's target hashes
each chunk (hashlib SHA-256) and writes it to a temporary file, on the event loop; at
the end the file is flushed and fsynced, and the answer gives its size and digest. No
authentication, limits, blob store, rename or database: what any app that stores an
upload durably pays, and what Tasklette is measured against.

It is served with the uvicorn arguments of `tasklette serve` (one worker):

    python bench/upload_prototype_app.py PORT [DIRECTORY]
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from streaming_form_data import StreamingFormDataParser  # type: ignore[import-untyped]
from streaming_form_data.targets import BaseTarget  # type: ignore[import-untyped]

DIRECTORY = tempfile.gettempdir()


class HashingFileTarget(BaseTarget):  # type: ignore[misc]
    """Writes the part to a new temporary file and hashes it on the way."""

    def __init__(self) -> None:
        super().__init__()
        self.file: Any = None
        self.path = ""
        self.hash = hashlib.sha256()
        self.size = 0

    def on_start(self) -> None:
        fd, self.path = tempfile.mkstemp(dir=DIRECTORY, prefix="prototype-", suffix=".part")
        self.file = os.fdopen(fd, "wb")

    def on_data_received(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.file.write(chunk)
        self.size += len(chunk)

    def on_finish(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


async def upload(request: Request) -> JSONResponse:
    parser = StreamingFormDataParser(headers=request.headers)
    target = HashingFileTarget()
    parser.register("file", target)
    try:
        async for chunk in request.stream():
            parser.data_received(chunk)
    finally:
        if target.file is not None and not target.file.closed:
            target.file.close()
        if target.path:
            os.unlink(target.path)  # the benchmark keeps nothing
    return JSONResponse([{"size": target.size, "sha256": target.hash.hexdigest()}],
                        status_code=201)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/upload", upload, methods=["POST"]),
                        Route("/healthz", healthz)])


def main() -> None:
    global DIRECTORY
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8002
    if len(sys.argv) > 2:
        DIRECTORY = sys.argv[2]
    # The same arguments as `tasklette serve` with default settings (see bare_app.py).
    from tasklette.settings import load_settings

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                loop=load_settings().event_loop, proxy_headers=True, server_header=False,
                timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
