"""Importing a project from a file: Trello JSON, Todoist CSV, or a Tasklette export.

`read` turns a file into a `Plan` without touching the database (so a bad file is
refused before anything is written); `writer.write` creates the project in one
transaction. Every import makes a new project, owned by the importing user.
"""

from __future__ import annotations

from typing import Any

import orjson

from tasklette.services import exporting
from tasklette.services.importing import tasklette_json, todoist, trello, writer
from tasklette.services.importing.plan import InvalidImport, Plan
from tasklette.services.importing.writer import ImportResult, Progress
from tasklette.services.permissions import Actor
from tasklette.storage.database import Database

__all__ = ["SOURCES", "ImportResult", "InvalidImport", "Plan", "detect", "import_file", "read",
           "size"]

SOURCES = {"trello": "a Trello board export (JSON)",
           "todoist": "a Todoist project export (CSV)",
           "tasklette": "a Tasklette project export (JSON)"}
_WHAT = {"trello": "a Trello board export", "tasklette": "a Tasklette project export"}


def _json(data: bytes, source: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidImport(f"this is not {_WHAT[source]}: it is not JSON ({exc})") from None


def read(source: str, data: bytes, name: str | None = None) -> Plan:
    """The plan of a file from `source` (trello, todoist or tasklette); InvalidImport if not."""
    if source not in SOURCES:
        raise InvalidImport(f"there is no import from {source!r}; use one of "
                            f"{', '.join(SOURCES)}")
    if not data.strip():
        raise InvalidImport("the file is empty")
    name = " ".join(name.split()) if name else None
    if source == "todoist":
        return todoist.read(data, name)
    if source == "trello":
        return trello.read(_json(data, source), name)
    return tasklette_json.read(_json(data, source), name)


def detect(data: bytes) -> str:
    """Which source a file looks like it comes from: tasklette, trello or todoist."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return "todoist"
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return "trello"  # reading it as Trello's gives the message about the broken JSON
    if isinstance(parsed, dict) and parsed.get("format") == exporting.FORMAT:
        return "tasklette"
    return "trello"


def size(plan: Plan) -> int:
    """How many rows `write` reports progress for: tasks and comments."""
    tasks = plan.all_tasks()
    return len(tasks) + sum(len(task.comments) for task in tasks)


async def import_file(db: Database, actor: Actor, source: str, data: bytes,
                      name: str | None = None, progress: Progress | None = None
                      ) -> ImportResult:
    """Create a new project from a file, owned by the actor, all in one transaction."""
    return await writer.write(db, actor, read(source, data, name), progress)
