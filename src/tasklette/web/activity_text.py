"""Events as sentences a person reads: "Ana moved “Fix login” to Done".

Used by the task page's and the project's activity and by the live updates. The sentences are plain
text (the templates escape them); names come from the event itself, or from the maps
the caller passes (a column's name, a member's display name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Event = Mapping[str, Any]

_FIELD_NAMES = {
    "title": "the title", "description": "the description", "priority": "the priority",
    "start_date": "the start date", "due_date": "the due date", "label_ids": "the labels",
    "assignees": "the assignees", "column_id": "the column",
}


def _quoted(title: object) -> str:
    text = str(title or "").strip() or "a task"
    if len(text) > 80:
        text = text[:79].rstrip() + "…"
    return f"“{text}”"


def _a(noun: str) -> str:
    """`an editor`, `a label`: the noun with its indefinite article."""
    return f"{'an' if noun[:1].lower() in ('a', 'e', 'i', 'o', 'u') else 'a'} {noun}"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


class _Describer:
    def __init__(self, event: Event, column_names: Mapping[int, str],
                 names: Mapping[str, str]) -> None:
        self.event = event
        self.payload: Mapping[str, Any] = event.get("payload") or {}
        self.column_names = column_names
        self.names = names
        username = event.get("actor_username")
        self.who = names.get(username, username) if username else "Someone"

    @property
    def task(self) -> Mapping[str, Any]:
        task = self.payload.get("task")
        return task if isinstance(task, Mapping) else {}

    @property
    def title(self) -> str:
        return _quoted(self.task.get("title") or self.payload.get("title")
                       or self.payload.get("task_title"))

    def column(self, column_id: object) -> str:
        if isinstance(column_id, int) and column_id in self.column_names:
            return self.column_names[column_id]
        return "another column"

    def task_created(self) -> str:
        if self.task.get("parent_task_id") is not None:
            return f"{self.who} added the subtask {self.title}"
        column_id = self.task.get("column_id")
        where = f" in {self.column(column_id)}" if column_id in self.column_names else ""
        return f"{self.who} created {self.title}{where}"

    def task_updated(self) -> str:
        changes = [str(name) for name in self.payload.get("changes") or []]
        task = self.task
        if changes == ["completed"]:
            verb = "completed" if task.get("completed") else "reopened"
            return f"{self.who} {verb} {self.title}"
        if changes == ["column_id"]:
            return f"{self.who} moved {self.title} to {self.column(task.get('column_id'))}"
        if changes == ["title"]:
            return f"{self.who} renamed a task to {self.title}"
        if changes in (["due_date"], ["start_date"]):
            what = _FIELD_NAMES[changes[0]]
            if task.get(changes[0]) is None:
                return f"{self.who} cleared {what} of {self.title}"
            return f"{self.who} changed {what} of {self.title} to {task[changes[0]]}"
        if changes == ["priority"]:
            return f"{self.who} set the priority of {self.title} to {task.get('priority')}"
        parts = [_FIELD_NAMES.get(name, name.replace("_", " ")) for name in changes
                 if name != "completed"]
        sentence = f"{self.who} changed {_join(parts)} of {self.title}" if parts \
            else f"{self.who} changed {self.title}"
        if "completed" in changes:
            sentence += " and marked it " + ("done" if task.get("completed") else "not done")
        return sentence

    def task_moved(self) -> str:
        before = self.payload.get("from") or {}
        to = self.task.get("column_id")
        if before.get("column_id") == to:
            return f"{self.who} reordered {self.title} in {self.column(to)}"
        return f"{self.who} moved {self.title} to {self.column(to)}"

    def _label(self) -> str:
        label = self.payload.get("label") or {}
        return str(label.get("name") or "a label")

    def task_label_added(self) -> str:
        return f"{self.who} added the label {self._label()} to {self.title}"

    def task_label_removed(self) -> str:
        return f"{self.who} removed the label {self._label()} from {self.title}"

    def task_deleted(self) -> str:
        return f"{self.who} deleted {self.title}"

    def comment_created(self) -> str:
        title = self.payload.get("task_title")
        return f"{self.who} commented on {_quoted(title)}" if title else f"{self.who} commented"

    def comment_updated(self) -> str:
        return f"{self.who} edited a comment"

    def comment_deleted(self) -> str:
        return f"{self.who} deleted a comment"

    def column_created(self) -> str:
        column = self.payload.get("column") or {}
        return f"{self.who} added the column {_quoted(column.get('name'))}"

    def column_updated(self) -> str:
        column = self.payload.get("column") or {}
        return f"{self.who} changed the column {_quoted(column.get('name'))}"

    def column_deleted(self) -> str:
        return f"{self.who} deleted a column"

    def _member(self) -> tuple[str, str]:
        """The member's name as `names` gives it, and their role."""
        member = self.payload.get("member") or {}
        username = member.get("username")
        name = self.names.get(username, username) if username else "someone"
        return name, str(member.get("role") or "member")

    def member_added(self) -> str:
        name, role = self._member()
        return f"{self.who} added {name} to the project as {role}"

    def member_updated(self) -> str:
        name, role = self._member()
        return f"{self.who} made {name} {_a(role)}"

    def member_removed(self) -> str:
        member = self.payload.get("member") or {}
        if member.get("id") is not None and member.get("id") == self.event.get("actor_id"):
            return f"{self.who} left the project"
        return f"{self.who} removed {self._member()[0]} from the project"

    def project_created(self) -> str:
        project = self.payload.get("project") or {}
        return f"{self.who} created the project {_quoted(project.get('name'))}"

    def project_updated(self) -> str:
        project = self.payload.get("project") or {}
        changes = [str(name) for name in self.payload.get("changes") or []]
        if changes == ["name"]:
            return f"{self.who} renamed the project to {_quoted(project.get('name'))}"
        if changes == ["archived"]:
            verb = "archived" if project.get("archived") else "restored"
            return f"{self.who} {verb} the project"
        parts = [f"the {name.replace('_', ' ')}" for name in changes]
        return f"{self.who} changed {_join(parts) or 'the settings'} of the project"

    def attachment_added(self) -> str:
        name = _quoted(self.payload.get("name") or "a file")
        return f"{self.who} attached {name} to {self.title}"

    def attachment_deleted(self) -> str:
        name = _quoted(self.payload.get("name") or "a file")
        return f"{self.who} removed the attachment {name} from {self.title}"

    def other(self) -> str:
        kind = str(self.event.get("kind") or "")
        noun, _, verb = kind.partition(".")
        verb = {"added": "added", "removed": "removed", "created": "created",
                "updated": "changed", "deleted": "deleted"}.get(verb, "changed")
        return f"{self.who} {verb} {_a(noun.replace('_', ' ') or 'thing')}"


_KINDS: dict[str, Callable[[_Describer], str]] = {
    "task.created": _Describer.task_created,
    "task.updated": _Describer.task_updated,
    "task.moved": _Describer.task_moved,
    "task.label_added": _Describer.task_label_added,
    "task.label_removed": _Describer.task_label_removed,
    "task.deleted": _Describer.task_deleted,
    "comment.created": _Describer.comment_created,
    "comment.updated": _Describer.comment_updated,
    "comment.deleted": _Describer.comment_deleted,
    "column.created": _Describer.column_created,
    "column.updated": _Describer.column_updated,
    "column.deleted": _Describer.column_deleted,
    "attachment.added": _Describer.attachment_added,
    "attachment.deleted": _Describer.attachment_deleted,
    "member.added": _Describer.member_added,
    "member.updated": _Describer.member_updated,
    "member.removed": _Describer.member_removed,
    "project.created": _Describer.project_created,
    "project.updated": _Describer.project_updated,
}


def describe(event: Event, column_names: Mapping[int, str] | None = None,
             names: Mapping[str, str] | None = None) -> str:
    """One sentence saying what the event did, e.g. 'Ana moved “Fix login” to Done'.

    `column_names` maps column ids to names (events store ids); `names` maps usernames
    to the names to show (e.g. display names); without it the username is shown.
    """
    describer = _Describer(event, column_names or {}, names or {})
    method = _KINDS.get(str(event.get("kind")), _Describer.other)
    return method(describer)
