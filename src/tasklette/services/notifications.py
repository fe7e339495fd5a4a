"""In-app notifications: written by a job after a change, listed and marked read by
their recipient.

`fan_out` runs outside any request (a job of kind `notifying.FAN_OUT`): it reads the
event, finds who to tell (the newly assigned, the mentioned, the task's watchers),
never the actor and only current members, and writes all their notifications in one
transaction with one bulk insert; `live.notices` then tells their open streams. Run
twice (at-least-once), it writes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from tasklette.clock import now_iso
from tasklette.services.errors import Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.services.wakers import Wakers
from tasklette.storage import dialect, events, members, notifications, tasks, watchers
from tasklette.storage.database import Database, Row, Tx, retried

if TYPE_CHECKING:
    from tasklette.services.job_runner import Job

PAGE_SIZE = 50
EXCERPT_CHARS = 200


# This process's followers of the table (`live.notices`), woken after a commit that
# wrote notifications (other processes' are woken by the database).
_wakers = Wakers()
add_waker = _wakers.add  # `wake` is called (from any thread) after each such commit
remove_waker = _wakers.remove
_wake_followers = _wakers.wake


async def fan_out(db: Database, job: Job) -> None:
    """The job's handler: write the notifications of the event it names."""
    await _fan_out(db, job.payload)


@retried
async def _fan_out(db: Database, payload: dict[str, Any]) -> None:
    async with db.transaction() as tx:
        event = await events.get(tx, int(payload["event_id"]))
        if event is None or event["task_id"] is None or event["project_id"] is None:
            return
        project_id, task_id = int(event["project_id"]), int(event["task_id"])
        if not await tasks.in_project(tx, project_id, task_id):
            return  # deleted since: nothing left to tell about
        if await notifications.any_for_event(tx, int(event["id"])):
            return  # this job ran before (its transaction committed)
        # One notification per person: later kinds here win (assigned over mentioned
        # over activity on a watched task).
        concerned: dict[int, str] = {}
        if payload.get("commented") or payload.get("changes"):
            activity = "commented" if payload.get("commented") else "changed"
            for user_id in await watchers.of_task(tx, project_id, task_id):
                concerned[user_id] = activity
        for user_id in payload.get("mentioned", ()):
            concerned[int(user_id)] = "mentioned"
        for user_id in payload.get("assigned", ()):
            concerned[int(user_id)] = "assigned"
        concerned.pop(event["actor_id"], None)
        recipients = await _members(tx, project_id, sorted(concerned))
        if not recipients:
            return
        detail = orjson.dumps(_detail(event, payload)).decode()
        now = now_iso()
        await notifications.insert_many(tx, [
            (user_id, project_id, task_id, int(event["id"]), concerned[user_id],
             event["actor_id"], detail, now) for user_id in recipients])
        tx.after_commit(_wake_followers)  # this process's streams hear of them at once


async def _members(tx: Tx, project_id: int, user_ids: list[int]) -> list[int]:
    found: set[int] = set()
    for batch in dialect.chunks(user_ids):
        found |= await members.member_ids(tx, project_id, batch)
    return sorted(found)


def _detail(event: Row, payload: dict[str, Any]) -> dict[str, Any]:
    """What the notification says beyond its kind: what changed, or the comment."""
    detail: dict[str, Any] = {"event_kind": event["kind"]}
    if payload.get("changes"):
        detail["changes"] = list(payload["changes"])
    comment = event["payload"].get("comment")
    if isinstance(comment, dict):
        detail["comment_id"] = comment["id"]
        body = str(comment.get("body", ""))
        detail["excerpt"] = body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else "")
    return detail


@dataclass(frozen=True)
class NotificationPage:
    """A page of notifications, newest first; `next_cursor` asks for the next one."""

    items: list[Row]
    next_cursor: str | None
    unread_count: int

    def as_json(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor,
                "unread_count": self.unread_count}


def _cursor_id(cursor: str | None) -> int | None:
    """A cursor is the event id the page before it ended on, as this module wrote it."""
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18 or cursor[0] == "0":
        raise Invalid("this cursor was not given out by this list; start again without it",
                      field="cursor")
    return int(cursor)


async def list_mine(db: Database, actor: Actor, *, unread_only: bool = False,
                    cursor: str | None = None, limit: int = PAGE_SIZE) -> NotificationPage:
    """The actor's notifications in projects they belong to, newest first."""
    before = _cursor_id(cursor)
    async with db.reading() as conn:
        rows = await notifications.page(conn, actor.id, unread_only=unread_only,
                                        before_event=before, limit=limit + 1)
        unread = await notifications.unread_count(conn, actor.id)
    more = len(rows) > limit
    rows = rows[:limit]
    return NotificationPage(rows, str(rows[-1]["event_id"]) if more else None, unread)


async def unread_count(db: Database, actor: Actor) -> int:
    async with db.reading() as conn:
        return await notifications.unread_count(conn, actor.id)


@retried
async def mark_read(db: Database, actor: Actor, ids: Sequence[int] | None) -> int:
    """Mark these notifications read (None: all of mine); NotFound for an id that is not
    mine, with nothing changed. The unread count that is left."""
    async with db.transaction() as tx:
        if ids is not None:
            missing = sorted(set(ids) - await notifications.owned_ids(tx, actor.id, ids))
            if missing:
                raise NotFound(f"you have no notification {missing[0]}")
        await notifications.mark_read(tx, actor.id, ids, now_iso())
        return await notifications.unread_count(tx, actor.id)
