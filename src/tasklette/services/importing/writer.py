"""Creating an import's project: everything in one transaction, or nothing at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tasklette.clock import now_iso
from tasklette.numbers import int_or_none
from tasklette.services.importing.plan import (
    NAME_MAX,
    TITLE_MAX,
    InvalidImport,
    Plan,
    PlanTask,
    clean,
    clip,
    distinct,
    plural,
)
from tasklette.services.labels import normalise_color
from tasklette.services.permissions import Actor
from tasklette.services.tasks import MAX_SUBTASK_DEPTH
from tasklette.services.users import USERNAME
from tasklette.storage import events, project_dump, projects
from tasklette.storage.database import Database, IntegrityError, Tx, retried
from tasklette.storage.task_order import RANK_GAP

Progress = Callable[[int], None]
SOURCES = {"trello": "Trello", "todoist": "Todoist", "tasklette": "Tasklette"}
BULK_ROWS = 1000  # imports this large refresh the planner's statistics afterwards


@dataclass
class ImportResult:
    """What an import created, and what it could not bring over as it was."""

    project_id: int
    name: str
    source: str
    columns: int = 0
    tasks: int = 0
    subtasks: int = 0
    labels: int = 0
    comments: int = 0
    assigned: int = 0
    links: int = 0
    members_added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kept_as_text: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def lines(self) -> list[str]:
        """The summary in sentences, for the command line and the page."""
        lines = [f"Imported “{self.name}” from {SOURCES[self.source]} (project "
                 f"{self.project_id}): {plural(self.columns, 'column')}, "
                 f"{plural(self.tasks, 'task')}, {plural(self.subtasks, 'subtask')}, "
                 f"{plural(self.labels, 'label')}, {plural(self.comments, 'comment')}."]
        if self.assigned:
            lines.append(f"Assigned people to tasks {plural(self.assigned, 'time')}.")
        if self.members_added:
            lines.append("Added to the project: " + ", ".join(self.members_added) + ".")
        if self.links:
            lines.append(f"Recorded {plural(self.links, 'attachment')} as links in the "
                         "task descriptions.")
        if self.kept_as_text:
            lines.append("No account here, kept as names in the text: "
                         + ", ".join(self.kept_as_text) + ".")
        lines.extend(f"Skipped: {item}." for item in self.skipped)
        return lines


def _usernames(plan: Plan, tasks: list[PlanTask]) -> set[str]:
    names = {username for username, _, _ in plan.members}
    for task in tasks:
        names.update(p.username for p in task.assignees if p.username)
        names.update(c.author.username for c in task.comments
                     if c.author and c.author.username)
        names.update(name for name in (task.created_by, task.updated_by) if name)
    names.update(view.created_by for view in plan.views if view.created_by)
    names.update(str(event.get("actor")) for event in plan.events if event.get("actor"))
    names.update(str(event.get("entity_username")) for event in plan.events
                 if event.get("entity_username"))
    return {name for name in names if USERNAME.fullmatch(name)}  # others have no account


def _flattened(task: PlanTask) -> list[PlanTask]:
    """The task's subtasks at every depth, in order, in one flat list."""
    found: list[PlanTask] = []
    for sub in task.subtasks:
        found.append(sub)
        found.extend(_flattened(sub))
        sub.subtasks = []
    return found


def _limit_depth(plan: Plan) -> None:
    """Subtasks nested deeper than Tasklette allows move up to the deepest allowed level."""
    moved = 0

    def walk(task: PlanTask, depth: int) -> None:
        nonlocal moved
        if depth == MAX_SUBTASK_DEPTH - 1:
            direct = len(task.subtasks)
            task.subtasks = _flattened(task)
            moved += len(task.subtasks) - direct
            return
        for sub in task.subtasks:
            walk(sub, depth + 1)

    for column in plan.columns:
        for task in column.tasks:
            walk(task, 1)
    if moved:
        plan.skipped.append(f"the nesting of {plural(moved, 'subtask')} deeper than "
                            f"{MAX_SUBTASK_DEPTH} levels (moved up to level "
                            f"{MAX_SUBTASK_DEPTH})")


def _distinct(name: str, taken: set[str]) -> str:
    """The name, or "name (2)", "name (3)"…: an import never looks like a merge."""
    name = clip(name, NAME_MAX) or "Imported project"
    candidate, number = name, 2
    while candidate in taken:
        suffix = f" ({number})"
        candidate = clip(name, NAME_MAX - len(suffix)) + suffix
        number += 1
    return candidate


class _Writer:
    def __init__(self, tx: Tx, actor: Actor, plan: Plan, progress: Progress | None) -> None:
        self.tx, self.actor, self.plan = tx, actor, plan
        self.progress = progress or (lambda count: None)
        self.users: dict[str, int] = {}
        self.task_ids: dict[int, int] = {}  # id(PlanTask) -> new id
        self.column_ids: dict[int, int] = {}  # id(PlanColumn) -> new id
        self.refs: dict[tuple[str, Any], int] = {}  # (entity type, source id) -> new id
        self.unknown: dict[str, int] = {}  # person label -> times kept as text
        self.now = now_iso()

    def user(self, username: str | None) -> int | None:
        return self.users.get(username) if username else None

    async def run(self) -> ImportResult:
        plan, tx = self.plan, self.tx
        _limit_depth(plan)
        tasks = plan.all_tasks()
        self.users = await project_dump.user_ids(tx, sorted(_usernames(plan, tasks)))
        self.users[self.actor.username] = self.actor.id
        name = _distinct(plan.name, await project_dump.project_names(tx, self.actor.id))
        project_id = await project_dump.insert_project(tx, {
            "name": name, "description": clean(plan.description), "archived": plan.archived,
            "created_by": self.actor.id, "created_at": plan.created_at or self.now,
            "updated_at": plan.updated_at or self.now})
        self.refs[("project", None)] = project_id
        result = ImportResult(project_id, name, plan.source, links=plan.links,
                              skipped=list(plan.skipped))
        result.members_added = await self._members(project_id, tasks)
        await self._columns(project_id)
        await self._labels(project_id)
        await self._tasks(project_id, result)
        result.comments = await self._comments(tasks)
        await self._views(project_id)
        await self._history(project_id)
        result.columns, result.labels = len(plan.columns), len(plan.labels)
        result.kept_as_text = [f"{label} ({plural(count, 'time')})" if count > 1 else label
                               for label, count in sorted(self.unknown.items())]
        project = await projects.get_for_member(tx, project_id, self.actor.id)
        await events.append(tx, project_id, self.actor.id, "project.created", "project",
                            project_id, {"project": project, "imported_from": plan.source,
                                         "summary": result.as_dict()})
        return result

    async def _members(self, project_id: int, tasks: list[PlanTask]) -> list[str]:
        roles: dict[str, tuple[str, str | None]] = {}
        for username, role, added_at in self.plan.members:
            if username in self.users and role in ("owner", "editor", "viewer"):
                roles[username] = (role, added_at)
        mine = roles.get(self.actor.username, ("owner", None))[1]
        roles[self.actor.username] = ("owner", mine)
        added = [username for username in sorted(roles) if username != self.actor.username]
        # Assignees must be members: those with an account join as editors.
        for task in tasks:
            for person in task.assignees:
                if person.username in self.users and person.username not in roles:
                    roles[person.username] = ("editor", None)
                    added.append(f"{person.username} (editor)")
        await project_dump.insert_many(
            self.tx, "project_members", ("project_id", "user_id", "role", "created_at"),
            [(project_id, self.users[username], role, at or self.now)
             for username, (role, at) in roles.items()])
        return added

    async def _columns(self, project_id: int) -> None:
        columns = self.plan.columns
        ids = await project_dump.reserve_ids(self.tx, "columns", len(columns))
        for column, new_id in zip(columns, ids, strict=True):
            self.column_ids[id(column)] = new_id
            if column.ref is not None:
                self.refs[("column", column.ref)] = new_id
        await project_dump.insert_many(
            self.tx, "columns", ("id", "project_id", "name", "position", "created_at"),
            [(new_id, project_id, clip(column.name, NAME_MAX) or "Untitled", position,
              column.created_at or self.now)
             for position, (column, new_id) in enumerate(zip(columns, ids, strict=True))])

    async def _labels(self, project_id: int) -> None:
        labels = self.plan.labels
        ids = await project_dump.reserve_ids(self.tx, "labels", len(labels))
        for label, new_id in zip(labels, ids, strict=True):
            self.refs[("label", label.key)] = new_id
        names = distinct([clip(label.name, NAME_MAX) or "Label" for label in labels], NAME_MAX)
        await project_dump.insert_many(
            self.tx, "labels", ("id", "project_id", "name", "color", "created_at"),
            [(new_id, project_id, name, normalise_color(label.color), label.created_at or self.now)
             for label, new_id, name in zip(labels, ids, names, strict=True)])

    def _people_note(self, task: PlanTask) -> str:
        missing = [person for person in task.assignees if person.username not in self.users]
        for person in missing:
            self.unknown[person.label()] = self.unknown.get(person.label(), 0) + 1
        if not missing:
            return clean(task.description)
        names = ", ".join(person.label() for person in missing)
        note = f"Assigned in {SOURCES[self.plan.source]} to: {names}"
        return clean(f"{task.description}\n\n{note}" if task.description else note)

    async def _tasks(self, project_id: int, result: ImportResult) -> None:
        rows: list[tuple[Any, ...]] = []
        links: list[tuple[int, int]] = []
        assignees: list[tuple[int, int]] = []
        count = len(self.plan.all_tasks())
        ids = iter(await project_dump.reserve_ids(self.tx, "tasks", count))

        def add(task: PlanTask, column_id: int | None, parent: int | None, rank: int) -> None:
            task_id = next(ids)
            self.task_ids[id(task)] = task_id
            if task.ref is not None:
                self.refs[("task", task.ref)] = task_id
            start = task.start_date
            if start and task.due_date and start > task.due_date:
                start = None
            rows.append((
                task_id, project_id, column_id, parent, rank,
                clip(task.title, TITLE_MAX) or "Untitled", self._people_note(task),
                min(max(task.priority, 0), 4), start, task.due_date, int(task.completed),
                (task.completed_at or self.now) if task.completed else None,
                max(task.version, 1), self.user(task.created_by) or self.actor.id,
                task.created_at or self.now,
                self.user(task.updated_by) or self.user(task.created_by) or self.actor.id,
                task.updated_at or task.created_at or self.now))
            links.extend((task_id, self.refs[("label", key)]) for key in dict.fromkeys(
                task.labels) if ("label", key) in self.refs)
            assignees.extend((task_id, self.users[name]) for name in dict.fromkeys(
                p.username for p in task.assignees) if name in self.users)
            for i, sub in enumerate(task.subtasks):
                add(sub, None, task_id, (i + 1) * RANK_GAP)

        for column in self.plan.columns:
            column_id = self.column_ids[id(column)]
            for i, task in enumerate(column.tasks):
                result.tasks += 1
                add(task, column_id, None, (i + 1) * RANK_GAP)
        result.subtasks = len(rows) - result.tasks
        names = ("id", "project_id", "column_id", "parent_task_id", "rank", "title",
                 "description", "priority", "start_date", "due_date", "completed",
                 "completed_at", "version", "created_by", "created_at", "updated_by",
                 "updated_at")
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            await project_dump.insert_many(self.tx, "tasks", names, chunk)
            self.progress(len(chunk))
        await project_dump.insert_many(self.tx, "task_labels", ("task_id", "label_id"), links)
        await project_dump.insert_many(self.tx, "task_assignees", ("task_id", "user_id"),
                                       assignees)
        result.assigned = len(assignees)

    async def _comments(self, tasks: list[PlanTask]) -> int:
        rows: list[tuple[Any, ...]] = []
        source = SOURCES[self.plan.source]
        comments = [(task, comment) for task in tasks for comment in task.comments]
        ids = await project_dump.reserve_ids(self.tx, "comments", len(comments))
        for (task, comment), new_id in zip(comments, ids, strict=True):
            if comment.ref is not None:
                self.refs[("comment", comment.ref)] = new_id
            author = comment.author
            author_id = self.user(author.username) if author else None
            body = comment.body
            if author and author_id is None:
                self.unknown[author.label()] = self.unknown.get(author.label(), 0) + 1
                body = f"**{author.label()}** wrote in {source}:\n\n{body}"
            rows.append((new_id, self.task_ids[id(task)], author_id, clean(body),
                         comment.created_at or self.now, comment.edited_at))
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            await project_dump.insert_many(
                self.tx, "comments",
                ("id", "task_id", "author_id", "body", "created_at", "edited_at"), chunk)
            self.progress(len(chunk))
        return len(rows)

    async def _views(self, project_id: int) -> None:
        views = self.plan.views
        ids = await project_dump.reserve_ids(self.tx, "saved_views", len(views))
        rows = []
        names = distinct([clip(view.name, NAME_MAX) or "View" for view in views], NAME_MAX)
        for view, new_id, name in zip(views, ids, names, strict=True):
            if view.ref is not None:
                self.refs[("view", view.ref)] = new_id
            params = []
            for key, value in parse_qsl(view.query):
                if key in ("label", "column"):
                    number = int_or_none(value)
                    new = self.refs.get((key, value if number is None else number))
                    if new is None:
                        continue
                    value = str(new)
                params.append((key, value))
            rows.append((new_id, project_id, name, clean(urlencode(params)),
                         self.user(view.created_by), view.created_at or self.now,
                         view.updated_at or self.now))
        await project_dump.insert_many(
            self.tx, "saved_views",
            ("id", "project_id", "name", "query", "created_by", "created_at", "updated_at"),
            rows)

    async def _history(self, project_id: int) -> None:
        """The source's events, naming what came along by its new id. Things that did not
        (deleted before the export) are named 0, never an id that means something here;
        payloads are kept as they were written."""
        rows = []
        for event in self.plan.events:
            kind = str(event["entity_type"])
            if kind == "user":
                entity = self.user(event.get("entity_username"))
            else:
                entity = self.refs.get((kind, None if kind == "project" else event["entity_id"]))
            rows.append({
                "actor_id": self.user(event.get("actor")), "kind": clean(event["kind"]),
                "entity_type": clean(kind),
                "entity_id": entity if entity is not None else 0,
                "task_id": self.refs.get(("task", event.get("task_id"))),
                "payload": event["payload"], "created_at": event["created_at"]})
        await project_dump.insert_events(self.tx, project_id, rows)


async def write(db: Database, actor: Actor, plan: Plan,
                progress: Progress | None = None) -> ImportResult:
    """Create the plan's project, owned by the actor, in one transaction."""
    result = await _write(db, actor, plan, progress)
    if result.tasks + result.subtasks + result.comments >= BULK_ROWS:
        await _refresh_statistics(db)
    return result


@retried
async def _write(db: Database, actor: Actor, plan: Plan,
                 progress: Progress | None) -> ImportResult:
    try:
        async with db.transaction() as tx:
            return await _Writer(tx, actor, plan, progress).run()
    except IntegrityError as exc:
        # The readers check what they can; this is the last guard, and nothing was written.
        raise InvalidImport(f"the file holds rows that contradict each other ({exc})") \
            from None


@retried
async def _refresh_statistics(db: Database) -> None:
    async with db.transaction() as tx:
        await project_dump.refresh_statistics(tx)

