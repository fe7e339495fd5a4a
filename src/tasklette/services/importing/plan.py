"""What an import will create, whatever the source: a project as plain data.

Each reader (Trello, Todoist, Tasklette JSON) turns its file into a `Plan`, without
touching the database; `writer.write` then creates all of it in one transaction.
People are named by username: the writer links those who have an account here and
keeps the others' names as text, so nothing is dropped silently.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from tasklette.services.errors import Invalid

TITLE_MAX = 500
NAME_MAX = 100


class InvalidImport(Invalid):
    """The file cannot be imported; `detail` says why and what would work."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="file")


@dataclass(frozen=True)
class Person:
    """Someone named in the source: a username to look up and a name to show otherwise."""

    username: str | None
    name: str

    def label(self) -> str:
        if self.username and self.username.lower() != self.name.lower():
            return f"{self.name} (@{self.username})"
        return self.name


@dataclass
class PlanComment:
    body: str
    author: Person | None = None
    created_at: str | None = None
    edited_at: str | None = None
    ref: Any = None  # the source's id, for events that name it


@dataclass
class PlanTask:
    title: str
    description: str = ""
    priority: int = 0
    start_date: str | None = None
    due_date: str | None = None
    completed: bool = False
    completed_at: str | None = None
    labels: list[Any] = field(default_factory=list)  # keys of Plan.labels
    assignees: list[Person] = field(default_factory=list)
    comments: list[PlanComment] = field(default_factory=list)
    subtasks: list[PlanTask] = field(default_factory=list)
    created_by: str | None = None
    created_at: str | None = None
    updated_by: str | None = None
    updated_at: str | None = None
    version: int = 1
    ref: Any = None


@dataclass
class PlanColumn:
    name: str
    tasks: list[PlanTask] = field(default_factory=list)
    created_at: str | None = None
    ref: Any = None


@dataclass
class PlanLabel:
    key: Any
    name: str
    color: str
    created_at: str | None = None


@dataclass
class PlanView:
    name: str
    query: str  # a list-view query string; label and column ids are the source's
    created_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    ref: Any = None


@dataclass
class Plan:
    """A project to create. `skipped` lists, in words, what the source had that is not
    imported; `links` counts attachments recorded as links."""

    source: str
    name: str
    description: str = ""
    archived: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    columns: list[PlanColumn] = field(default_factory=list)
    labels: list[PlanLabel] = field(default_factory=list)
    members: list[tuple[str, str, str | None]] = field(default_factory=list)  # user, role, at
    views: list[PlanView] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    links: int = 0

    def all_tasks(self) -> list[PlanTask]:
        """Every task, each parent before its subtasks."""
        found: list[PlanTask] = []
        stack = [task for column in reversed(self.columns) for task in reversed(column.tasks)]
        while stack:
            task = stack.pop()
            found.append(task)
            stack.extend(reversed(task.subtasks))
        return found


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def clean(text: str) -> str:
    """`text` without NUL characters, which no database column may hold."""
    return text.replace("\x00", "")


def clip(text: str, limit: int) -> str:
    """`text` stripped and cut to `limit` characters, with an ellipsis when cut."""
    text = clean(text).strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def distinct(names: list[str], limit: int) -> list[str]:
    """The names, each made unique within the list by a number ("bug", "bug 2")."""
    taken: set[str] = set()
    result = []
    for name in names:
        candidate, number = name, 2
        while candidate in taken:
            suffix = f" {number}"
            candidate = clip(name, limit - len(suffix)) + suffix
            number += 1
        taken.add(candidate)
        result.append(candidate)
    return result


def iso_time(value: Any) -> str | None:
    """An ISO 8601 time from the source as Tasklette stores it (UTC, microseconds), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_day(value: Any) -> str | None:
    """The calendar day (UTC) of an ISO 8601 date or time from the source, or None."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    moment = iso_time(value)
    return moment[:10] if moment else None
