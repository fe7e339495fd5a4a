"""Activity: the event log of a project or a task, as members may read it."""

from __future__ import annotations

from tasklette.services import permissions
from tasklette.services.errors import Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.services.users import normalise_username
from tasklette.storage import events, projects, tasks, users
from tasklette.storage.database import Conn, Database, Row

# What the kind filter offers: "task" keeps task.created, task.moved and the other task.*.
KIND_GROUPS = ("task", "comment", "column", "label", "member", "project", "attachment")


async def _events(db: Database, actor: Actor, project_id: int, *, before_id: int | None,
                  after_id: int | None, limit: int, by: str | None,
                  kinds: tuple[str, ...]) -> list[Row]:
    unknown = [kind for kind in kinds if kind not in KIND_GROUPS]
    if unknown:
        raise Invalid(f"kind must be one of {', '.join(KIND_GROUPS)}", field="kind")
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        actor_id = None
        if by is not None:
            actor_id = await _user_id(conn, by)
            if actor_id is None:
                return []
        return await events.for_project(conn, project_id, before_id=before_id,
                                        after_id=after_id, actor_id=actor_id,
                                        kind_groups=kinds, limit=limit)


async def _user_id(conn: Conn, username: str) -> int | None:
    """The id of the user called `username`, or None when there is no such user.

    Any user, not only current members: a removed member's past events stay findable,
    and a project's events are all its members may see either way.
    """
    try:
        user = await users.by_username(conn, normalise_username(username))
    except Invalid:
        return None
    return None if user is None else int(user["id"])


async def for_project(db: Database, actor: Actor, project_id: int, before_id: int | None,
                      limit: int, *, by: str | None = None, kinds: tuple[str, ...] = ()
                      ) -> tuple[list[Row], int | None]:
    """A page of the project's events, newest first, and the id to continue before.

    `by` keeps the events of one username (none when nobody has it); `kinds` keeps the
    kind groups named (see KIND_GROUPS).
    """
    rows = await _events(db, actor, project_id, before_id=before_id, after_id=None,
                         limit=limit + 1, by=by, kinds=kinds)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more else None)


async def newer_for_project(db: Database, actor: Actor, project_id: int, after_id: int,
                            limit: int, *, by: str | None = None,
                            kinds: tuple[str, ...] = ()) -> list[Row]:
    """The project's events after `after_id`, newest first, filtered like `for_project`.

    When more than `limit` are newer, these are the `limit` right after `after_id`; asking
    again after the newest of them gives the rest, with none skipped.
    """
    rows = await _events(db, actor, project_id, before_id=None, after_id=after_id,
                         limit=limit, by=by, kinds=kinds)
    return rows[::-1]


async def for_task(db: Database, actor: Actor, task_id: int) -> list[Row]:
    async with db.reading() as conn:
        if await tasks.get_for_member(conn, task_id, actor.id) is None:
            raise NotFound("task not found")
        return await events.for_task(conn, task_id)
