"""Events: the append-only log of every change, read back as activity."""

from __future__ import annotations

from typing import Any

import orjson

from tasklette.clock import now_iso
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
    tx.emit(event)
    return event


async def for_project(conn: Conn, project_id: int, *, before_id: int | None,
                      limit: int) -> list[Row]:
    """The project's events, newest first, with the actor's username."""
    where = "e.project_id = ?"
    params: list[Any] = [project_id]
    if before_id is not None:
        where += " AND e.id < ?"
        params.append(before_id)
    params.append(limit)
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, u.username AS actor_username FROM events e "
        f"LEFT JOIN users u ON u.id = e.actor_id WHERE {where} ORDER BY e.id DESC LIMIT ?",
        params)
    return [_decode(row) for row in rows]


async def for_task(conn: Conn, task_id: int, limit: int = 100) -> list[Row]:
    """Events about one task and its comments, newest first."""
    rows = await conn.fetchall(
        f"SELECT {FIELDS}, u.username AS actor_username FROM events e "
        "LEFT JOIN users u ON u.id = e.actor_id WHERE e.task_id = ? ORDER BY e.id DESC LIMIT ?",
        (task_id, limit))
    return [_decode(row) for row in rows]
