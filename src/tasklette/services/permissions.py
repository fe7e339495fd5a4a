"""Who may do what. The one place roles are interpreted, for every surface."""

from __future__ import annotations

from dataclasses import dataclass

from tasklette.services.errors import Forbidden, NotFound

ROLES = ("owner", "editor", "viewer")


@dataclass(frozen=True)
class Actor:
    """The signed-in user a service call acts for."""

    id: int
    username: str
    display_name: str = ""
    is_admin: bool = False


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
