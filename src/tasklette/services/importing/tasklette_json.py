"""Reading a Tasklette project export (see services/exporting.py) back into a plan.

Every field is checked before anything is written; references between rows (a
task's column, parent and labels, a comment's task) must resolve inside the file.
Keys a version-1 reader does not know are ignored, so a later export that adds
rows of a new kind still imports here, without them.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tasklette.services.exporting import FORMAT, VERSION
from tasklette.services.importing.plan import (
    InvalidImport,
    Person,
    Plan,
    PlanColumn,
    PlanComment,
    PlanLabel,
    PlanTask,
    PlanView,
    iso_time,
)
from tasklette.storage.tasks import PRIORITIES


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("created_at", "updated_at", "completed_at", "added_at", "edited_at",
                     mode="after", check_fields=False)
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        """Times as Tasklette writes them; anything else is refused, not stored."""
        if value is None:
            return None
        moment = iso_time(value)
        if moment is None:
            raise ValueError(f"{value!r} is not an ISO 8601 time")
        return moment


class _Project(_Row):
    name: str
    description: str = ""
    archived: bool = False
    created_at: str | None = None
    updated_at: str | None = None


class _Member(_Row):
    username: str
    role: Literal["owner", "editor", "viewer"]
    added_at: str | None = None


class _Column(_Row):
    id: int
    name: str
    position: int
    created_at: str | None = None


class _Label(_Row):
    id: int
    name: str
    color: str
    created_at: str | None = None


class _Task(_Row):
    id: int
    column_id: int | None
    parent_task_id: int | None
    position: int
    title: str
    description: str = ""
    priority: Literal["none", "low", "medium", "high", "urgent"] = "none"
    start_date: str | None = None
    due_date: str | None = None
    completed: bool = False
    completed_at: str | None = None
    version: int = Field(1, ge=1, le=2_000_000_000)
    created_by: str | None = None
    created_at: str | None = None
    updated_by: str | None = None
    updated_at: str | None = None
    labels: list[int] = []
    assignees: list[str] = []

    @field_validator("start_date", "due_date")
    @classmethod
    def _day(cls, value: str | None) -> str | None:
        if value is not None:
            datetime.date.fromisoformat(value)
        return value


class _Comment(_Row):
    id: int
    task_id: int
    author: str | None = None
    body: str
    created_at: str | None = None
    edited_at: str | None = None


class _View(_Row):
    id: int | None = None
    name: str
    query: str
    created_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class _Event(_Row):
    kind: str
    entity_type: str
    entity_id: int
    entity_username: str | None = None  # when the entity is a user
    task_id: int | None = None
    actor: str | None = None
    payload: dict[str, Any]
    created_at: str


class _Export(_Row):
    format: str
    version: int
    project: _Project
    members: list[_Member] = []
    columns: list[_Column] = []
    labels: list[_Label] = []
    tasks: list[_Task] = []
    comments: list[_Comment] = []
    views: list[_View] = []
    events: list[_Event] = []


def _validated(data: Any) -> _Export:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidImport(f"this is not a Tasklette project export: it should start with "
                            f"\"format\": \"{FORMAT}\"")
    version = data.get("version")
    if isinstance(version, int) and version > VERSION:
        raise InvalidImport(f"this export is of format version {version}, made by a newer "
                            f"Tasklette; this one reads version {VERSION}: upgrade Tasklette")
    try:
        return _Export.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidImport(f"the export is damaged at {where}: {error['msg']}") from None


def _task(row: _Task) -> PlanTask:
    return PlanTask(
        title=row.title, description=row.description, priority=PRIORITIES.index(row.priority),
        start_date=row.start_date, due_date=row.due_date, completed=row.completed,
        completed_at=row.completed_at, labels=list(row.labels),
        assignees=[Person(name, name) for name in row.assignees],
        created_by=row.created_by, created_at=row.created_at, updated_by=row.updated_by,
        updated_at=row.updated_at, version=row.version, ref=row.id)


def read(data: Any, name: str | None = None) -> Plan:
    """The plan of a parsed Tasklette export; InvalidImport when it is not one or is damaged."""
    export = _validated(data)
    project = export.project
    plan = Plan("tasklette", name or project.name, description=project.description,
                archived=project.archived, created_at=project.created_at,
                updated_at=project.updated_at,
                members=[(m.username, m.role, m.added_at) for m in export.members])
    columns = {}
    for row in sorted(export.columns, key=lambda c: c.position):
        columns[row.id] = PlanColumn(row.name, created_at=row.created_at, ref=row.id)
        plan.columns.append(columns[row.id])
    label_ids = set()
    for label in export.labels:
        plan.labels.append(PlanLabel(label.id, label.name, label.color, label.created_at))
        label_ids.add(label.id)
    tasks = {row.id: _task(row) for row in export.tasks}
    children: dict[int | None, list[_Task]] = defaultdict(list)
    for task_row in export.tasks:
        if any(label_id not in label_ids for label_id in task_row.labels):
            raise InvalidImport(f"task {task_row.id} has a label that is not in the file")
        if task_row.parent_task_id is None:
            if task_row.column_id is None or task_row.column_id not in columns:
                raise InvalidImport(f"task {task_row.id} is in column {task_row.column_id}, "
                                    "which is not in the file")
        elif task_row.parent_task_id not in tasks:
            raise InvalidImport(f"task {task_row.id} is a subtask of task "
                                f"{task_row.parent_task_id}, which is not in the file")
        children[task_row.parent_task_id].append(task_row)
    for top in sorted(children[None], key=lambda r: r.position):
        assert top.column_id is not None
        columns[top.column_id].tasks.append(tasks[top.id])
    for parent, rows in children.items():
        if parent is not None:
            tasks[parent].subtasks = [tasks[r.id] for r in sorted(rows, key=lambda r: r.position)]
    if len(plan.all_tasks()) != len(tasks):
        raise InvalidImport("some tasks are subtasks of each other in a loop")
    for comment in export.comments:
        if comment.task_id not in tasks:
            raise InvalidImport(f"comment {comment.id} is on task {comment.task_id}, which "
                                "is not in the file")
        author = Person(comment.author, comment.author) if comment.author else None
        tasks[comment.task_id].comments.append(PlanComment(
            comment.body, author, comment.created_at, comment.edited_at, ref=comment.id))
    plan.views = [PlanView(v.name, v.query, v.created_by, v.created_at, v.updated_at, v.id)
                  for v in export.views]
    plan.events = [event.model_dump() for event in export.events]
    return plan
