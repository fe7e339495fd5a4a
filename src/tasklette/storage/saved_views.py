"""Saved views: named list-view queries of a project, shared by its members."""

from __future__ import annotations

from typing import Any

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx

FIELDS = ("v.id, v.project_id, v.name, v.query, v.created_by, u.username AS created_by_username, "
          "v.created_at, v.updated_at")
_FROM = "FROM saved_views v LEFT JOIN users u ON u.id = v.created_by"


async def list_for_project(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        f"SELECT {FIELDS} {_FROM} WHERE v.project_id = ? ORDER BY LOWER(v.name), v.id",
        (project_id,))


async def get(conn: Conn, view_id: int) -> Row | None:
    return await conn.fetchone(f"SELECT {FIELDS} {_FROM} WHERE v.id = ?", (view_id,))


async def get_for_member(conn: Conn, view_id: int, user_id: int) -> Row | None:
    """The view with the member's role in its project; None for non-members."""
    return await conn.fetchone(
        f"SELECT {FIELDS}, m.role {_FROM} "
        "JOIN project_members m ON m.project_id = v.project_id AND m.user_id = ? "
        "WHERE v.id = ?", (user_id, view_id))


async def insert(tx: Tx, project_id: int, name: str, query: str, created_by: int | None,
                 created_at: str | None = None, updated_at: str | None = None) -> int:
    now = now_iso()
    return int(await tx.fetchval(
        "INSERT INTO saved_views (project_id, name, query, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (project_id, name, query, created_by, created_at or now, updated_at or now)))


async def update(tx: Tx, view_id: int, changes: dict[str, Any]) -> None:
    assignments = "".join(f"{name} = ?, " for name in changes)
    await tx.execute(f"UPDATE saved_views SET {assignments}updated_at = ? WHERE id = ?",
                     (*changes.values(), now_iso(), view_id))


async def delete(tx: Tx, view_id: int) -> None:
    await tx.execute("DELETE FROM saved_views WHERE id = ?", (view_id,))
