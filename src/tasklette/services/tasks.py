"""Tasks: create, read, change (with optimistic concurrency), move, delete, list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasklette.clock import now_iso
from tasklette.services import blob_garbage, notifying, permissions
from tasklette.services.errors import Conflict, Invalid, NotFound, PreconditionRequired
from tasklette.services.permissions import Actor
from tasklette.services.users import normalise_username
from tasklette.storage import (
    attachments,
    columns,
    events,
    labels,
    members,
    projects,
    task_lists,
    task_order,
    task_writes,
    tasks,
    users,
)
from tasklette.storage.database import Conn, Database, Row, Tx, retried
from tasklette.storage.task_lists import TaskFilter
from tasklette.storage.task_order import Scope
from tasklette.storage.tasks import PRIORITIES

MAX_SUBTASK_DEPTH = 5


@dataclass
class TaskFields:
    """Fields of a task a client may set; None means 'not given'."""

    title: str | None = None
    description: str | None = None
    priority: str | None = None
    start_date: str | None = None
    due_date: str | None = None
    completed: bool | None = None
    label_ids: list[int] | None = None
    assignees: list[str] | None = None
    column_id: int | None = None
    # Fields explicitly sent as null (clearing a date), as opposed to not sent.
    cleared: frozenset[str] = frozenset()


async def _full(conn: Conn, task_id: int, *, with_subtasks: bool = True) -> Row:
    task = await tasks.get_full(conn, task_id, with_subtasks=with_subtasks)
    assert task is not None
    return task


async def card_of(conn: Conn, task_id: int) -> Row:
    """The task as its board card shows it now: what an event that changes a card's
    counts (a comment, a file, a subtask) carries as `card`, so boards need not fetch it."""
    return await _full(conn, task_id, with_subtasks=False)


async def _editable(tx: Tx, actor: Actor, task_id: int,
                    target_column: int | None = None) -> Row:
    # Locked: the read-check-write that follows must not interleave with another.
    task = await tasks.get_locked_for_member(tx, task_id, actor.id, target_column)
    if task is None:
        raise NotFound("task not found")
    permissions.require_edit(task.pop("role"), "task")
    return task


async def _assignee_ids(conn: Conn, project_id: int, usernames: list[str]) -> list[int]:
    ids = []
    for username in usernames:
        try:
            name = normalise_username(username)
        except Invalid:
            raise Invalid(f"{username!r} is not a username", field="assignees") from None
        user = await users.by_username(conn, name)
        if user is None or not await members.member_ids(conn, project_id, [user["id"]]):
            raise Invalid(f"{username!r} is not a member of this project", field="assignees")
        ids.append(int(user["id"]))
    return ids


async def _check_labels(conn: Conn, project_id: int, label_ids: list[int]) -> None:
    found = await labels.ids_in_project(conn, project_id, label_ids, linking=True)
    missing = [str(i) for i in label_ids if i not in found]
    if missing:
        raise Invalid(f"no label with id {', '.join(missing)} in this project",
                      field="label_ids")


def _check_dates(start: str | None, due: str | None) -> None:
    if start is not None and due is not None and start > due:
        raise Invalid("the start date must not be after the due date", field="start_date")


def _scalar_changes(fields: TaskFields) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("title", "description", "start_date", "due_date"):
        value = getattr(fields, name)
        if value is not None or name in fields.cleared:
            changes[name] = value
    if fields.priority is not None:
        changes["priority"] = PRIORITIES.index(fields.priority)
    if fields.completed is not None:
        changes["completed"] = int(fields.completed)
        changes["completed_at"] = now_iso() if fields.completed else None
    return changes


@retried
async def create(db: Database, actor: Actor, project_id: int, fields: TaskFields,
                 parent_task_id: int | None = None, position: int | None = None) -> Row:
    """Create a task (at the end of its column unless `position` is given)."""
    async with db.transaction() as tx:
        permissions.require_edit(await projects.role_of(tx, project_id, actor.id), "project")
        if parent_task_id is not None:
            if fields.column_id is not None:
                raise Invalid("a subtask is ordered within its parent, not in a column",
                              field="column_id")
            if not await tasks.in_project(tx, project_id, parent_task_id):
                raise Invalid("the parent task is not in this project", field="parent_task_id")
            if len(await tasks.ancestors(tx, parent_task_id)) >= MAX_SUBTASK_DEPTH:
                raise Invalid(f"subtasks can be nested at most {MAX_SUBTASK_DEPTH} deep",
                              field="parent_task_id")
            await tasks.lock(tx, parent_task_id)
            scope = Scope(parent_task_id=parent_task_id)
        else:
            column_id = fields.column_id
            if column_id is None:
                column_id = await columns.first_id(tx, project_id)
                if column_id is None:
                    raise Invalid("the project has no columns: add one first",
                                  field="column_id")
            await columns.lock(tx, column_id)
            # Checked under the lock: a column being deleted is gone once it is granted.
            if not await columns.in_project(tx, project_id, column_id):
                raise Invalid("no such column in this project", field="column_id")
            scope = Scope(column_id=column_id)
        _check_dates(fields.start_date, fields.due_date)
        if fields.label_ids:
            await _check_labels(tx, project_id, fields.label_ids)
        assignee_ids = await _assignee_ids(tx, project_id, fields.assignees or [])
        values = _scalar_changes(fields)
        values.setdefault("completed", 0)
        task_id = await task_writes.insert(tx, {
            **values, "project_id": project_id, "column_id": scope.column_id,
            "parent_task_id": scope.parent_task_id, "created_by": actor.id,
            "rank": await task_order.rank_at(tx, scope, position)})
        if fields.label_ids:
            await task_writes.set_labels(tx, task_id, fields.label_ids)
        if assignee_ids:
            await task_writes.set_assignees(tx, task_id, assignee_ids)
        task = await _full(tx, task_id)
        payload: dict[str, Any] = {"task": task}
        if parent_task_id is not None:
            payload["card"] = await card_of(tx, parent_task_id)
        event = await events.append(tx, project_id, actor.id, "task.created", "task", task_id,
                                    payload, task_id=task_id)
        await notifying.changed(tx, actor, event, assigned=assignee_ids,
                                text_after=values.get("description"), watch=True)
    return task


async def get(db: Database, actor: Actor, task_id: int) -> Row:
    """The task with labels, assignees, subtasks and comment count."""
    async with db.reading() as conn:
        task = await tasks.get_full(conn, task_id, member=actor.id)
        if task is None:
            raise NotFound("task not found")
        task.pop("role")
    return task


@retried
async def update(db: Database, actor: Actor, task_id: int, fields: TaskFields,
                 expected_version: int | None) -> Row:
    """Change a task that is still at `expected_version`; Conflict with the current one if not."""
    if expected_version is None:
        raise PreconditionRequired(
            "name the version you are changing, in an If-Match header or a 'version' field, "
            "so that nobody's change is silently overwritten")
    async with db.transaction() as tx:
        current = await _editable(tx, actor, task_id, fields.column_id)
        if current["version"] != expected_version:
            raise Conflict(
                f"the task was changed by someone else (version {current['version']}, "
                f"not {expected_version}); reload it and apply your change again",
                current=await _full(tx, task_id))
        project_id = current["project_id"]
        _check_dates(
            fields.start_date if fields.start_date is not None or "start_date" in fields.cleared
            else current["start_date"],
            fields.due_date if fields.due_date is not None or "due_date" in fields.cleared
            else current["due_date"])
        changes = _scalar_changes(fields)
        if fields.column_id is not None and fields.column_id != current["column_id"]:
            if current["parent_task_id"] is not None:
                raise Invalid("a subtask is ordered within its parent, not in a column",
                              field="column_id")
            if not await columns.in_project(tx, project_id, fields.column_id):
                raise Invalid("no such column in this project", field="column_id")
            changes["column_id"] = fields.column_id
            changes["rank"] = await task_order.rank_at(tx, Scope(column_id=fields.column_id), None)
        if fields.label_ids is not None:
            await _check_labels(tx, project_id, fields.label_ids)
            await task_writes.set_labels(tx, task_id, fields.label_ids)
        unassigned: set[int] = set()
        newly_assigned: set[int] = set()
        if fields.assignees is not None:
            before = set(await tasks.assignee_ids(tx, task_id))
            after = await _assignee_ids(tx, project_id, fields.assignees)
            unassigned = before - set(after)
            newly_assigned = set(after) - before
            await task_writes.set_assignees(tx, task_id, after)
        await task_writes.update(tx, task_id, changes, actor.id)
        task = await _full(tx, task_id)
        changed = sorted({*changes, *(
            name for name in ("label_ids", "assignees") if getattr(fields, name) is not None)}
            - {"rank", "completed_at"})
        payload: dict[str, Any] = {"task": task, "changes": changed}
        if unassigned:
            payload["unassigned_ids"] = sorted(unassigned)  # they are told, too
        if current["parent_task_id"] is not None:
            payload["card"] = await card_of(tx, current["parent_task_id"])
        event = await events.append(tx, project_id, actor.id, "task.updated", "task", task_id,
                                    payload, task_id=task_id)
        described = "description" in changes
        await notifying.changed(
            tx, actor, event, assigned=newly_assigned,
            text_before=current["description"] if described else None,
            text_after=changes["description"] if described else None,
            changes=[name for name in ("column_id", "due_date", "completed")
                     if name in changes and changes[name] != current[name]])
    return task


@retried
async def move(db: Database, actor: Actor, task_id: int, column_id: int | None,
               position: int | None) -> Row:
    """Move a task to `position` (0-based; None: the end) of a column, or of its parent's list."""
    async with db.transaction() as tx:
        current = await _editable(tx, actor, task_id, column_id)
        project_id = current["project_id"]
        if current["parent_task_id"] is not None:
            if column_id is not None:
                raise Invalid("a subtask is ordered within its parent, not in a column",
                              field="column_id")
            scope = Scope(parent_task_id=current["parent_task_id"])
        else:
            target = current["column_id"] if column_id is None else column_id
            if not await columns.in_project(tx, project_id, target):
                raise Invalid("no such column in this project", field="column_id")
            scope = Scope(column_id=target)
        rank = await task_order.rank_at(tx, scope, position, exclude_id=task_id)
        await task_writes.update(tx, task_id, {"column_id": scope.column_id, "rank": rank},
                                 actor.id)
        task = await _full(tx, task_id, with_subtasks=False)
        event = await events.append(
            tx, project_id, actor.id, "task.moved", "task", task_id,
            {"task": task, "from": {"column_id": current["column_id"],
                                    "position": current["position"]}}, task_id=task_id)
        if scope.column_id != current["column_id"]:
            await notifying.changed(tx, actor, event, changes=["column_id"])
    return task


@retried
async def delete(db: Database, actor: Actor, task_id: int,
                 expected_version: int | None = None) -> None:
    """Delete a task and its subtasks."""
    async with db.transaction() as tx:
        current = await _editable(tx, actor, task_id)
        if expected_version is not None and current["version"] != expected_version:
            raise Conflict(f"the task was changed by someone else (version "
                           f"{current['version']}); reload it before deleting",
                           current=await _full(tx, task_id))
        await blob_garbage.note_deleted(tx, await attachments.digests_of_task_tree(tx, task_id))
        await task_writes.delete(tx, task_id)
        payload: dict[str, Any] = {"task_id": task_id, "title": current["title"],
                                   "column_id": current["column_id"],
                                   "parent_task_id": current["parent_task_id"]}
        if current["parent_task_id"] is not None:
            payload["card"] = await card_of(tx, current["parent_task_id"])
        await events.append(tx, current["project_id"], actor.id, "task.deleted", "task",
                            task_id, payload, task_id=task_id)


@retried
async def set_label(db: Database, actor: Actor, task_id: int, label_id: int,
                    attached: bool) -> Row:
    """Attach or detach one label; a no-op when it already is as asked."""
    async with db.transaction() as tx:
        current = await _editable(tx, actor, task_id)
        label = await labels.get(tx, label_id, linking=True)
        if label is None or label["project_id"] != current["project_id"]:
            raise NotFound("label not found in this task's project")
        changed = await (labels.attach if attached else labels.detach)(tx, task_id, label_id)
        if changed:
            await task_writes.touch(tx, task_id, actor.id)
        task = await _full(tx, task_id)
        if changed:
            await events.append(
                tx, current["project_id"], actor.id,
                "task.label_added" if attached else "task.label_removed", "task", task_id,
                {"task": task, "label": label}, task_id=task_id)
    return task


@dataclass
class ListQuery:
    """A validated request for a page of tasks."""

    filter: TaskFilter
    assignee: str | None = None
    sort: str = "position"
    descending: bool = False
    cursor: str | None = None
    limit: int = 50


async def list_page(db: Database, actor: Actor, project_id: int,
                    query: ListQuery) -> tuple[list[Row], str | None]:
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        flt = query.filter
        if query.assignee is not None:
            name = actor.username if query.assignee == "me" else query.assignee
            user = await users.by_username(conn, name.strip().lower())
            if user is None:
                return [], None
            flt.assignee_id = user["id"]
        try:
            return await task_lists.list_page(conn, project_id, flt, query.sort, query.descending,
                                         query.cursor, query.limit)
        except task_lists.CursorError as exc:
            raise Invalid(str(exc), field="cursor") from None


async def board(db: Database, actor: Actor, project_id: int) -> tuple[Row, list[Row], list[Row]]:
    """What a board shows: the project, its columns, and its top-level tasks in order."""
    async with db.reading() as conn:
        project = await projects.get_for_member(conn, project_id, actor.id)
        if project is None:
            raise NotFound("project not found")
        return (project, await columns.list_for_project(conn, project_id),
                await task_lists.for_board(conn, project_id))


async def assigned_to_me(db: Database, actor: Actor, include_completed: bool = False
                         ) -> list[Row]:
    async with db.reading() as conn:
        return await task_lists.assigned_to(conn, actor.id, include_completed)
