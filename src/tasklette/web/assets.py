"""Static files under content-hashed URLs, cached by browsers for a year."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


class Assets:
    """Maps `app.css` to `/static/app.<hash>.css` and serves those URLs."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.directory = directory
        self.hashes: dict[str, str] = {}
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                name = path.relative_to(directory).as_posix()
                self.hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def url(self, name: str) -> str:
        digest = self.hashes[name]  # KeyError: a template names a file that is not there
        stem, dot, suffix = name.rpartition(".")
        return f"/static/{stem}.{digest}.{suffix}" if dot else f"/static/{name}.{digest}"

    async def serve(self, request: Request) -> Response:
        match = _HASHED.match(request.path_params["path"])
        if match is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        name = match["stem"] + match["suffix"]
        if self.hashes.get(name) != match["hash"]:
            return Response("Not found", status_code=404, media_type="text/plain")
        return FileResponse(self.directory / name, headers={
            "cache-control": "public, max-age=31536000, immutable"})

    def route(self) -> Route:
        return Route("/static/{path:path}", self.serve, name="static")
