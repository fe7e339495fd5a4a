"""Labels: coloured tags of a project."""

from __future__ import annotations

import re
from typing import Any

from tasklette.services import permissions
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.storage import events, labels, projects
from tasklette.storage.database import Database, IntegrityError, Row, retried

COLOR = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})")


def normalise_color(color: str) -> str:
    """`#RGB` or `#RRGGBB`, returned as lower-case `#rrggbb`; anything else is refused."""
    value = color.strip().lower()
    if not COLOR.fullmatch(value):
        raise Invalid("a colour is written #rrggbb, e.g. #e5484d", field="color")
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value


async def list_for_project(db: Database, actor: Actor, project_id: int) -> list[Row]:
    async with db.reading() as conn:
        permissions.require_read(await projects.role_of(conn, project_id, actor.id), "project")
        return await labels.list_for_project(conn, project_id)


@retried
async def create(db: Database, actor: Actor, project_id: int, name: str, color: str) -> Row:
    color = normalise_color(color)
    try:
        async with db.transaction() as tx:
            permissions.require_edit(await projects.role_of(tx, project_id, actor.id),
                                     "project")
            label = await labels.insert(tx, project_id, name, color)
            await events.append(tx, project_id, actor.id, "label.created", "label",
                                label["id"], {"label": label})
    except IntegrityError:
        raise Conflict(f"the project already has a label named {name!r}") from None
    return label


async def get(db: Database, actor: Actor, label_id: int) -> Row:
    async with db.reading() as conn:
        label = await labels.get_for_member(conn, label_id, actor.id)
    if label is None:
        raise NotFound("label not found")
    label.pop("role")
    return label


@retried
async def update(db: Database, actor: Actor, label_id: int, changes: dict[str, Any]) -> Row:
    changes = dict(changes)
    if "color" in changes:
        changes["color"] = normalise_color(changes["color"])
    try:
        async with db.transaction() as tx:
            label = await labels.get_for_member(tx, label_id, actor.id)
            if label is None:
                raise NotFound("label not found")
            permissions.require_edit(label.pop("role"), "label")
            if changes:
                await labels.update(tx, label_id, changes)
                label = await labels.get(tx, label_id)
                assert label is not None
                await events.append(tx, label["project_id"], actor.id, "label.updated",
                                    "label", label_id, {"label": label})
    except IntegrityError:
        raise Conflict(f"the project already has a label named {changes.get('name')!r}") \
            from None
    return label


@retried
async def delete(db: Database, actor: Actor, label_id: int) -> None:
    async with db.transaction() as tx:
        label = await labels.get_for_member(tx, label_id, actor.id)
        if label is None:
            raise NotFound("label not found")
        permissions.require_edit(label.pop("role"), "label")
        await labels.delete(tx, label_id)
        await events.append(tx, label["project_id"], actor.id, "label.deleted", "label",
                            label_id, {"label": label})
