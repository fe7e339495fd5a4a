"""Notifications: what a user is told, one row per recipient per event.

Every read joins the user's membership: a notification about a project they have left
is neither listed nor counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx

FIELDS = ("n.id, n.project_id, n.task_id, n.event_id, n.kind, n.actor_id, n.detail, "
          "n.created_at, n.read_at, t.title AS task_title, p.name AS project_name, "
          "u.username AS actor_username, u.display_name AS actor_display_name")
NOTIFY_CHANNEL = "tasklette_notifications"
_PG_LOCK = 7_426_005  # an advisory lock key beside migrations' and blobs'

_FROM = ("FROM notifications n "
         "JOIN project_members m ON m.project_id = n.project_id AND m.user_id = n.user_id "
         "JOIN tasks t ON t.id = n.task_id JOIN projects p ON p.id = n.project_id "
         "LEFT JOIN users u ON u.id = n.actor_id ")


async def insert_many(tx: Tx, rows: Sequence[tuple[int, int, int, int, str, int | None, str,
                                                   str]]) -> None:
    """Notifications from (user, project, task, event, kind, actor, detail JSON, created)
    rows, in one statement's round trip; one a user already has for the event is kept."""
    if tx.dialect == "postgresql":
        # Ids commit in order (a follower reading "after id N" skips none), and every
        # listening process is woken at commit.
        await tx.execute(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
        await tx.execute("SELECT pg_notify(?, '')", (NOTIFY_CHANNEL,))
    await tx.executemany(
        "INSERT INTO notifications (user_id, project_id, task_id, event_id, kind, actor_id, "
        "detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id, event_id) DO NOTHING", rows)


def _decode(row: Row) -> Row:
    row["detail"] = orjson.loads(row["detail"])
    return row


async def page(conn: Conn, user_id: int, *, unread_only: bool, before_event: int | None,
               limit: int) -> list[Row]:
    """The user's notifications, newest change first (by event: jobs that run side by
    side may write them in another order), before the event `before_event` if given."""
    where = ["n.user_id = ?"]
    params: list[object] = [user_id]
    if unread_only:
        where.append("n.read_at IS NULL")
    if before_event is not None:
        where.append("n.event_id < ?")
        params.append(before_event)
    rows = await conn.fetchall(
        f"SELECT {FIELDS} {_FROM}WHERE {' AND '.join(where)} ORDER BY n.event_id DESC "
        "LIMIT ?", (*params, limit))
    return [_decode(row) for row in rows]


async def unread_count(conn: Conn, user_id: int) -> int:
    return int(await conn.fetchval(
        "SELECT COUNT(*) FROM notifications n JOIN project_members m "
        "ON m.project_id = n.project_id AND m.user_id = n.user_id "
        "WHERE n.user_id = ? AND n.read_at IS NULL", (user_id,)))


async def unread_counts(conn: Conn, user_ids: Sequence[int]) -> dict[int, int]:
    """Each of these users' unread count (in projects they belong to; 0 included)."""
    found = dict.fromkeys(user_ids, 0)
    for batch in dialect.chunks(sorted(set(user_ids))):
        for user_id, count in await conn.fetchtuples(
                "SELECT n.user_id, COUNT(*) FROM notifications n JOIN project_members m "
                "ON m.project_id = n.project_id AND m.user_id = n.user_id "
                f"WHERE n.user_id IN ({dialect.placeholders(len(batch))}) "
                "AND n.read_at IS NULL GROUP BY n.user_id", batch):
            found[int(user_id)] = int(count)
    return found


async def mark_read(tx: Tx, user_id: int, ids: Sequence[int] | None, now: str) -> int:
    """Mark the user's notifications read (these ids, or all); how many changed."""
    if ids is None:
        return await tx.execute(
            "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL",
            (now, user_id))
    changed = 0
    for batch in dialect.chunks(sorted(set(ids))):
        changed += await tx.execute(
            "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL "
            f"AND id IN ({dialect.placeholders(len(batch))})", (now, user_id, *batch))
    return changed


async def owned_ids(conn: Conn, user_id: int, ids: Sequence[int]) -> set[int]:
    """Which of `ids` are the user's notifications (in projects they still belong to)."""
    found: set[int] = set()
    for batch in dialect.chunks(sorted(set(ids))):
        found.update(int(i) for (i,) in await conn.fetchtuples(
            "SELECT n.id FROM notifications n JOIN project_members m "
            "ON m.project_id = n.project_id AND m.user_id = n.user_id "
            f"WHERE n.user_id = ? AND n.id IN ({dialect.placeholders(len(batch))})",
            (user_id, *batch)))
    return found


async def any_for_event(conn: Conn, event_id: int) -> bool:
    """Whether the notifications of this event were written already."""
    return await conn.fetchone(
        "SELECT id FROM notifications WHERE event_id = ? LIMIT 1", (event_id,)) is not None


async def latest_id(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM notifications"))


async def after(conn: Conn, after_id: int, limit: int) -> list[tuple[int, int]]:
    """(id, user id) of notifications after `after_id`, oldest first."""
    return [(int(i), int(u)) for i, u in await conn.fetchtuples(
        "SELECT id, user_id FROM notifications WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit))]
