"""Project members and their roles."""

from __future__ import annotations

from collections.abc import Iterable

from tasklette.clock import now_iso
from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx

FIELDS = "u.id, u.username, u.display_name, m.role, m.created_at AS added_at"


async def list_for_project(conn: Conn, project_id: int) -> list[Row]:
    return await conn.fetchall(
        f"SELECT {FIELDS} FROM project_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.project_id = ? ORDER BY u.username",
        (project_id,))


async def get(conn: Conn, project_id: int, user_id: int) -> Row | None:
    return await conn.fetchone(
        f"SELECT {FIELDS} FROM project_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.project_id = ? AND m.user_id = ?",
        (project_id, user_id))


async def add(tx: Tx, project_id: int, user_id: int, role: str) -> None:
    await tx.execute(
        "INSERT INTO project_members (project_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
        (project_id, user_id, role, now_iso()))


async def set_role(tx: Tx, project_id: int, user_id: int, role: str) -> None:
    await tx.execute(
        "UPDATE project_members SET role = ? WHERE project_id = ? AND user_id = ?",
        (role, project_id, user_id))


async def remove(tx: Tx, project_id: int, user_id: int) -> None:
    await tx.execute("DELETE FROM project_members WHERE project_id = ? AND user_id = ?",
                     (project_id, user_id))
    # An ex-member cannot stay assigned to the project's tasks.
    await tx.execute(
        "DELETE FROM task_assignees WHERE user_id = ? AND task_id IN "
        "(SELECT id FROM tasks WHERE project_id = ?)",
        (user_id, project_id))


async def count_owners(conn: Conn, project_id: int) -> int:
    return int(await conn.fetchval(
        "SELECT COUNT(*) FROM project_members WHERE project_id = ? AND role = 'owner'",
        (project_id,)))


async def member_ids(conn: Conn, project_id: int, user_ids: list[int]) -> set[int]:
    """Which of `user_ids` are members of the project."""
    if not user_ids:
        return set()
    marks = ", ".join("?" * len(user_ids))
    rows = await conn.fetchall(
        f"SELECT user_id FROM project_members WHERE project_id = ? AND user_id IN ({marks})",
        (project_id, *user_ids))
    return {int(row["user_id"]) for row in rows}


async def roles_in(conn: Conn, project_ids: Iterable[int]) -> dict[tuple[int, int], str]:
    """Every member's role in these projects, by (project id, user id)."""
    found: dict[tuple[int, int], str] = {}
    for batch in dialect.chunks(set(project_ids)):
        for project_id, user_id, role in await conn.fetchtuples(
                "SELECT project_id, user_id, role FROM project_members "
                f"WHERE project_id IN ({dialect.placeholders(len(batch))})", batch):
            found[(project_id, user_id)] = role
    return found


async def ids_by_username(conn: Conn, project_id: int, usernames: Iterable[str]
                          ) -> dict[str, int]:
    """Members of the project among these (lower-case) usernames: name -> user id."""
    found: dict[str, int] = {}
    for batch in dialect.chunks(sorted(set(usernames))):
        for username, user_id in await conn.fetchtuples(
                "SELECT u.username, u.id FROM users u JOIN project_members m "
                "ON m.user_id = u.id AND m.project_id = ? "
                f"WHERE u.username IN ({dialect.placeholders(len(batch))})",
                (project_id, *batch)):
            found[str(username)] = int(user_id)
    return found

