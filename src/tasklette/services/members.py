"""Project members: add by username, change roles, remove; a project keeps an owner.

Every change of membership locks the project first, then reads roles: two owners
demoting or removing each other at once are serialised, and the second sees the first.
"""

from __future__ import annotations

from tasklette.services import permissions
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.services.users import normalise_username
from tasklette.storage import events, members, projects, users, watchers
from tasklette.storage.database import Database, Row, Tx, retried


async def list_for_project(db: Database, actor: Actor, project_id: int) -> list[Row]:
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        return await members.list_for_project(conn, project_id)


def _check_role(role: str) -> None:
    if role not in permissions.ROLES:
        raise Invalid("role must be owner, editor or viewer", field="role")


async def _member(tx: Tx, project_id: int, username: str) -> Row:
    user = await users.by_username(tx, normalise_username(username))
    member = await members.get(tx, project_id, user["id"]) if user else None
    if member is None:
        raise NotFound(f"{username!r} is not a member of this project")
    return member


@retried
async def add(db: Database, actor: Actor, project_id: int, username: str, role: str) -> Row:
    _check_role(role)
    async with db.transaction() as tx:
        permissions.require_manage(await projects.role_of(tx, project_id, actor.id), "project")
        user = await users.by_username(tx, normalise_username(username))
        if user is None:
            raise Invalid(f"there is no user named {username!r}", field="username")
        if await members.get(tx, project_id, user["id"]) is not None:
            raise Conflict(f"{user['username']!r} is already a member of this project")
        await members.add(tx, project_id, user["id"], role)
        member = await members.get(tx, project_id, user["id"])
        assert member is not None
        await events.append(tx, project_id, actor.id, "member.added", "user", user["id"],
                            {"member": member})
    return member


@retried
async def change_role(db: Database, actor: Actor, project_id: int, username: str,
                      role: str) -> Row:
    _check_role(role)
    async with db.transaction() as tx:
        await projects.lock(tx, project_id)
        permissions.require_manage(await projects.role_of(tx, project_id, actor.id), "project")
        member = await _member(tx, project_id, username)
        if member["role"] == "owner" and role != "owner" \
                and await members.count_owners(tx, project_id) == 1:
            raise Conflict("a project must keep at least one owner; make someone else an "
                           "owner first")
        await members.set_role(tx, project_id, member["id"], role)
        member = {**member, "role": role}
        await events.append(tx, project_id, actor.id, "member.updated", "user", member["id"],
                            {"member": member})
    return member


@retried
async def remove(db: Database, actor: Actor, project_id: int, username: str) -> None:
    """Remove a member (owners), or leave the project oneself (anyone)."""
    async with db.transaction() as tx:
        await projects.lock(tx, project_id)
        role = permissions.require_read(await projects.role_of(tx, project_id, actor.id),
                                        "project")
        member = await _member(tx, project_id, username)
        if member["id"] != actor.id:
            permissions.require_manage(role, "project")
        if member["role"] == "owner" and await members.count_owners(tx, project_id) == 1:
            raise Conflict("a project must keep at least one owner; make someone else an "
                           "owner first, or delete the project")
        await members.remove(tx, project_id, member["id"])
        await watchers.forget_member(tx, project_id, member["id"])
        await events.append(tx, project_id, actor.id, "member.removed", "user", member["id"],
                            {"member": member})
