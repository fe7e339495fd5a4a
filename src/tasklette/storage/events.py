"""Events: the append-only log of every change, read back as activity."""

from __future__ import annotations

from typing import Any

import orjson

from tasklette.clock import now_iso
from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx

FIELDS = ("e.id, e.project_id, e.actor_id, e.kind, e.entity_type, e.entity_id, e.task_id, "
          "e.payload, e.created_at")


def _decode(row: Row) -> Row:
    row["payload"] = orjson.loads(row["payload"])
    return row


async def append(tx: Tx, project_id: int | None, actor_id: int | None, kind: str,
                 entity_type: str, entity_id: int, payload: dict[str, Any],
                 task_id: int | None = None) -> Row:
    """Write one event in the caller's transaction; it is published after commit."""
    if tx.dialect == "postgresql":
        await _serialise(tx, project_id, recipients(actor_id, kind, payload))
    created_at = now_iso()
    event_id = await tx.fetchval(
        "INSERT INTO events (project_id, actor_id, kind, entity_type, entity_id, task_id, "
        "payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (project_id, actor_id, kind, entity_type, entity_id, task_id,
         orjson.dumps(payload).decode(), created_at))
    event = {"id": event_id, "project_id": project_id, "actor_id": actor_id, "kind": kind,
             "entity_type": entity_type, "entity_id": entity_id, "task_id": task_id,
             "payload": payload,
             "created_at": created_at}
    if tx.dialect == "postgresql" and project_id is not None:
        # Delivered to every listening process when (and only if) the transaction commits.
        await tx.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, f"{project_id}:{event_id}"))
    tx.emit(event)
    return event


NOTIFY_CHANNEL = "tasklette_events"


async def _serialise(tx: Tx, project_id: int | None, users: set[int]) -> None:
    """Make the ids of a project's events (and of a user's notifications) commit in order.

    Readers follow a stream by id ("everything after 41"). On PostgreSQL two transactions
    can take ids 41 and 42 and commit 42 first; a reader between the two commits would
    move past 41 for good. An advisory lock per project, and per notified user, held to
    the end of the transaction, rules that out: ids in one stream are given out in commit
    order. (SQLite has one writer, so its ids always are.) Keys are negative, apart
    from the migrations' lock; they are taken in one fixed order, so never deadlock.
    """
    keys = ([-2 * project_id] if project_id is not None else []) + \
        [-2 * user_id - 1 for user_id in sorted(users)]
    for key in keys:
        await tx.execute("SELECT pg_advisory_xact_lock(?::bigint)", (key,))


def recipients(actor_id: int | None, kind: str, payload: dict[str, Any]) -> set[int]:
    """The users an event concerns personally (their notifications), not its actor.

    A member added, removed or given a new role; the assignees of a task that was
    created, changed or moved; the assignees of a task that was commented on.
    """
    users: set[int] = set()
    if kind.startswith("member."):
        users.add(payload["member"]["id"])
        return users
    task = payload.get("task")
    if isinstance(task, dict):
        users.update(person["id"] for person in task.get("assignees", ()))
        if kind == "task.updated":
            users.update(payload.get("unassigned_ids", ()))
    users.update(payload.get("assignee_ids", ()))
    if actor_id is not None:
        users.discard(actor_id)
    return users


async def after(conn: Conn, project_id: int, after_id: int, limit: int) -> list[Row]:
    """The project's events after `after_id`, oldest first: what a reconnecting stream missed."""
    rows = await conn.fetchall(
        f"SELECT {FIELDS} FROM events e WHERE e.project_id = ? AND e.id > ? "
        "ORDER BY e.id LIMIT ?", (project_id, after_id, limit))
    return [_decode(row) for row in rows]


async def after_in_projects(conn: Conn, project_ids: list[int], after_id: int,
                            limit: int) -> list[Row]:
    """Events of several projects after `after_id`, oldest first (a user's stream)."""
    if not project_ids:
        return []
    rows = await conn.fetchall(
        f"SELECT {FIELDS} FROM events e WHERE e.project_id IN "
        f"({dialect.placeholders(len(project_ids))}) AND e.id > ? ORDER BY e.id LIMIT ?",
        (*project_ids, after_id, limit))
    return [_decode(row) for row in rows]


async def after_everywhere(conn: Conn, after_id: int, limit: int) -> list[Row]:
    """Every event after `after_id`, oldest first: how one process follows the others."""
    rows = await conn.fetchall(
        f"SELECT {FIELDS} FROM events e WHERE e.id > ? ORDER BY e.id LIMIT ?",
        (after_id, limit))
    return [_decode(row) for row in rows]


async def get(conn: Conn, event_id: int) -> Row | None:
    row = await conn.fetchone(f"SELECT {FIELDS} FROM events e WHERE e.id = ?", (event_id,))
    return None if row is None else _decode(row)


async def latest_id(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM events"))


async def for_project(conn: Conn, project_id: int, *, before_id: int | None = None,
                      after_id: int | None = None, actor_id: int | None = None,
                      kind_groups: tuple[str, ...] = (), limit: int) -> list[Row]:
    """The project's events with the actor's username and whether their task still exists.

    Newest first; with `after_id`, oldest first instead: the events right after it, so a
    reader that pages forward never skips one. `actor_id` keeps one person's events;
    `kind_groups` (plain words such as "task") keeps the kinds "task.*" and so on.
    """
    where = ["e.project_id = ?"]
    params: list[Any] = [project_id]
    for condition, value in (("e.id < ?", before_id), ("e.id > ?", after_id),
                             ("e.actor_id = ?", actor_id)):
        if value is not None:
            where.append(condition)
            params.append(value)
    if kind_groups:
        where.append("(" + " OR ".join("e.kind LIKE ?" for _ in kind_groups) + ")")
        params.extend(f"{group}.%" for group in kind_groups)
    params.append(limit)
    # Filters are checked on the rows the events(project_id, id) index yields in id
    # order, so a page costs at most a scan of the project's events, never a sort.
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, u.username AS actor_username, t.id AS live_task_id FROM events e "
        "LEFT JOIN users u ON u.id = e.actor_id LEFT JOIN tasks t ON t.id = e.task_id "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY e.id {'ASC' if after_id is not None else 'DESC'} LIMIT ?", params)
    for row in rows:
        live_task_id = row.pop("live_task_id")
        row["task_exists"] = None if row["task_id"] is None else live_task_id is not None
    return [_decode(row) for row in rows]


async def for_task(conn: Conn, task_id: int, limit: int = 100) -> list[Row]:
    """Events about one task and its comments, newest first."""
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, u.username AS actor_username FROM events e "
        "LEFT JOIN users u ON u.id = e.actor_id WHERE e.task_id = ? ORDER BY e.id DESC LIMIT ?",
        (task_id, limit))
    return [_decode(row) for row in rows]


async def latest_for_project(conn: Conn, project_id: int) -> int:
    """The project's newest event id (0 when none): where a page's live stream resumes."""
    return int(await conn.fetchval(
        "SELECT COALESCE(MAX(id), 0) FROM events WHERE project_id = ?", (project_id,)))
