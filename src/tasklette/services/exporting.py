"""Exporting a project: everything as JSON (which imports back unchanged), tasks as CSV.

The JSON is one object: `format` ("tasklette.project") and `version` (1) first, then
`project`, `members`, `columns`, `labels`, `tasks`, `comments`, `views` and `events`.
Rows refer to each other by the ids they have here; people are named by username
(an event about a user also has `entity_username`). Event payloads are kept as they
were written, ids included. New kinds of rows (attachments, say) are added as new
top-level keys, so older readers keep working: version 1 readers ignore keys they do
not know.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson

from tasklette import __version__
from tasklette.clock import now_iso
from tasklette.services import permissions
from tasklette.services.permissions import Actor
from tasklette.storage import project_dump, projects
from tasklette.storage.database import Database, Row
from tasklette.storage.tasks import PRIORITIES

FORMAT = "tasklette.project"
VERSION = 1
Progress = Callable[[int], None]

CSV_HEADER = ("ID", "Parent ID", "Title", "Column", "Position", "Status", "Priority",
              "Labels", "Assignees", "Start date", "Due date", "Completed at", "Created at",
              "Created by", "Updated at", "Comments", "Description")


def _positions(tasks: list[Row]) -> None:
    """Each task's 0-based place in its list (rows arrive in list order)."""
    seen: dict[tuple[Any, Any], int] = defaultdict(int)
    for task in tasks:
        scope = (task["column_id"], task["parent_task_id"])
        task["position"] = seen[scope]
        seen[scope] += 1


def _tree_order(tasks: list[Row]) -> list[Row]:
    """Board order, each task followed by its subtasks (depth first)."""
    children: dict[int | None, list[Row]] = defaultdict(list)
    for task in tasks:
        children[task["parent_task_id"]].append(task)
    ordered: list[Row] = []
    stack = list(reversed(children[None]))
    while stack:
        task = stack.pop()
        ordered.append(task)
        stack.extend(reversed(children.get(task["id"], [])))
    return ordered


async def project_data(db: Database, actor: Actor, project_id: int,
                       progress: Progress | None = None) -> dict[str, Any]:
    """The whole project as plain data, as `export_json` writes it (members may export)."""
    progress = progress or (lambda count: None)
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        project = await project_dump.project(conn, project_id)
        assert project is not None
        tasks = await project_dump.tasks(conn, project_id)
        labels_of: dict[int, list[int]] = defaultdict(list)
        for task_id, label_id in await project_dump.task_labels(conn, project_id):
            labels_of[task_id].append(label_id)
        people_of: dict[int, list[str]] = defaultdict(list)
        for task_id, username in await project_dump.task_assignees(conn, project_id):
            people_of[task_id].append(username)
        data = {
            "format": FORMAT, "version": VERSION, "exported_at": now_iso(),
            "tasklette_version": __version__,
            "project": {**project, "archived": bool(project["archived"])},
            "members": await project_dump.members(conn, project_id),
            "columns": await project_dump.columns(conn, project_id),
            "labels": await project_dump.labels(conn, project_id),
        }
        _positions(tasks)
        for i, task in enumerate(tasks, start=1):
            del task["rank"]
            task["priority"] = PRIORITIES[task["priority"]]
            task["completed"] = bool(task["completed"])
            task["labels"] = labels_of.get(task["id"], [])
            task["assignees"] = people_of.get(task["id"], [])
            if i % 500 == 0:
                progress(500)
        progress(len(tasks) % 500)
        data["tasks"] = _tree_order(tasks)
        data["comments"] = await project_dump.comments(conn, project_id)
        data["views"] = await project_dump.views(conn, project_id)
        data["events"] = await project_dump.events(conn, project_id)
    return data


async def task_count(db: Database, actor: Actor, project_id: int) -> int:
    """How many tasks (subtasks included) an export of the project holds."""
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        return await project_dump.task_count(conn, project_id)


def to_json(data: dict[str, Any]) -> bytes:
    """The export as UTF-8 JSON, indented so that it diffs and reads well."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


def _cell(value: Any) -> str:
    """Text a spreadsheet shows as it is: a leading = + - @ would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(data: dict[str, Any], progress: Progress | None = None) -> bytes:
    """One row per task (subtasks after their parent): UTF-8 with a BOM, CRLF lines."""
    progress = progress or (lambda count: None)
    columns = {column["id"]: column["name"] for column in data["columns"]}
    labels = {label["id"]: label["name"] for label in data["labels"]}
    comment_counts: dict[int, int] = defaultdict(int)
    for comment in data["comments"]:
        comment_counts[comment["task_id"]] += 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for i, task in enumerate(data["tasks"], start=1):
        writer.writerow([
            task["id"], task["parent_task_id"] or "", _cell(task["title"]),
            _cell(columns.get(task["column_id"], "")), task["position"],
            "done" if task["completed"] else "open", task["priority"],
            _cell(", ".join(labels[label_id] for label_id in task["labels"])),
            ", ".join(task["assignees"]), task["start_date"] or "", task["due_date"] or "",
            task["completed_at"] or "", task["created_at"], task["created_by"] or "",
            task["updated_at"], comment_counts[task["id"]], _cell(task["description"])])
        if i % 500 == 0:
            progress(500)
    progress(len(data["tasks"]) % 500)
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def file_name(data: dict[str, Any], extension: str) -> str:
    """A safe download name: the project's name and the day, e.g. `launch-2026-11-23.json`."""
    name = "".join(c if c.isascii() and c.isalnum() else "-"
                   for c in data["project"]["name"].lower())
    name = "-".join(part for part in name.split("-") if part)[:60] or "project"
    return f"{name}-{data['exported_at'][:10]}.{extension}"


async def owner_actor(db: Database, project_id: int) -> Actor | None:
    """The project's first owner, who acts for an administrator at the command line."""
    async with db.reading() as conn:
        row = await project_dump.first_owner(conn, project_id)
    if row is None:
        return None
    return Actor(row["id"], row["username"], row["display_name"], bool(row["is_admin"]))
