"""Who may do what. The one place roles are interpreted, for every surface."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from tasklette.services.errors import Forbidden, NotFound
from tasklette.storage import members, projects, sessions, tokens
from tasklette.storage.database import Database

ROLES = ("owner", "editor", "viewer")


@dataclass(frozen=True)
class Credential:
    """What a request signed in with: an API token (by id) or a browser session (by hash)."""

    kind: Literal["token", "session"]
    key: int | str


@dataclass(frozen=True)
class Actor:
    """The signed-in user a service call acts for."""

    id: int
    username: str
    display_name: str = ""
    is_admin: bool = False
    # How they signed in, when a request did: what an open event stream re-checks.
    credential: Credential | None = field(default=None, compare=False, repr=False)


def can_read(role: str | None) -> bool:
    return role in ROLES


def can_edit(role: str | None) -> bool:
    """Editors and owners change tasks, labels, comments and columns."""
    return role in ("owner", "editor")


def can_manage(role: str | None) -> bool:
    """Owners manage members and the project itself."""
    return role == "owner"


def can_edit_comment(role: str | None, actor: Actor, author_id: int | None) -> bool:
    return can_edit(role) and author_id == actor.id


def can_delete_comment(role: str | None, actor: Actor, author_id: int | None) -> bool:
    return can_edit_comment(role, actor, author_id) or can_manage(role)


def require_read(role: str | None, what: str) -> str:
    """The role, when it may read; NotFound otherwise (existence is not revealed)."""
    if not can_read(role):
        raise NotFound(f"{what} not found")
    assert role is not None
    return role


def require_edit(role: str | None, what: str) -> None:
    require_read(role, what)
    if not can_edit(role):
        raise Forbidden("viewers cannot change this project; ask an owner for the editor role")


def require_manage(role: str | None, what: str) -> None:
    require_read(role, what)
    if not can_manage(role):
        raise Forbidden("only an owner of the project can do this")


def require_admin(actor: Actor | None) -> Actor:
    """The actor, when an instance administrator; NotFound otherwise (for anyone else
    the administration pages do not exist)."""
    if actor is None or not actor.is_admin:
        raise NotFound("page not found")
    return actor


# --- event streams ----------------------------------------------------------------------

TOKEN_REVOKED = "the API token was revoked"
SIGNED_OUT = "you were signed out"
NOT_A_MEMBER = "you are no longer a member of this project"


async def require_follow(db: Database, actor: Actor, project_id: int) -> None:
    """Only members may follow a project's events (others get 404, as for the project)."""
    async with db.reading() as conn:
        require_read(await projects.role_of(conn, project_id, actor.id), "project")


@dataclass(frozen=True)
class StreamGrant:
    """What keeps an open event stream open: who, signed in how, following what."""

    user_id: int
    credential: Credential | None
    project_id: int | None  # None: the user's own notifications


async def ended_grants(db: Database, grants: Collection[StreamGrant], session_idle: timedelta
                       ) -> dict[StreamGrant, str]:
    """The grants that no longer hold, with why: one read for any number of streams.

    A session idle for longer than `session_idle` has ended, as at sign-in (a stream
    being open is not activity: a forgotten tab does not keep a session alive).
    """
    seen_since = (datetime.now(UTC) - session_idle).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    token_ids = {int(g.credential.key) for g in grants
                 if g.credential is not None and g.credential.kind == "token"}
    session_hashes = {str(g.credential.key) for g in grants
                      if g.credential is not None and g.credential.kind == "session"}
    project_ids = {g.project_id for g in grants if g.project_id is not None}
    async with db.reading() as conn:
        valid_tokens = await tokens.valid_ids(conn, token_ids)
        live_sessions = await sessions.standing(conn, session_hashes, seen_since)
        roles = await members.roles_in(conn, project_ids)
    ended: dict[StreamGrant, str] = {}
    for grant in grants:
        credential = grant.credential
        if credential is not None and credential.kind == "token" \
                and credential.key not in valid_tokens:
            ended[grant] = TOKEN_REVOKED
        elif credential is not None and credential.kind == "session" \
                and credential.key not in live_sessions:
            ended[grant] = SIGNED_OUT
        elif grant.project_id is not None and \
                not can_read(roles.get((grant.project_id, grant.user_id))):
            ended[grant] = NOT_A_MEMBER
    return ended
