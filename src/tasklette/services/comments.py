"""Comments: Markdown notes on tasks, edited or deleted by their authors."""

from __future__ import annotations

from tasklette.services import notifying, permissions
from tasklette.services.errors import Forbidden, NotFound
from tasklette.services.permissions import Actor
from tasklette.services.tasks import card_of
from tasklette.storage import comments, events, tasks
from tasklette.storage.database import Database, Row, Tx, retried


async def list_for_task(db: Database, actor: Actor, task_id: int) -> list[Row]:
    async with db.reading() as conn:
        if await tasks.get_for_member(conn, task_id, actor.id) is None:
            raise NotFound("task not found")
        return await comments.list_for_task(conn, task_id)


@retried
async def create(db: Database, actor: Actor, task_id: int, body: str) -> Row:
    async with db.transaction() as tx:
        task = await tasks.get_for_member(tx, task_id, actor.id)
        if task is None:
            raise NotFound("task not found")
        permissions.require_edit(task["role"], "task")
        comment_id = await comments.insert(tx, task_id, actor.id, body)
        comment = await comments.get(tx, comment_id)
        assert comment is not None
        event = await events.append(
            tx, task["project_id"], actor.id, "comment.created", "comment", comment_id,
            {"comment": comment, "task_title": task["title"],
             "assignee_ids": await tasks.assignee_ids(tx, task_id),
             "card": await card_of(tx, task_id)}, task_id=task_id)
        await notifying.changed(tx, actor, event, text_after=body, text_field="body",
                                commented=True, watch=True)
    return comment


async def _own(tx: Tx, actor: Actor, comment_id: int) -> Row:
    comment = await comments.get_for_member(tx, comment_id, actor.id)
    if comment is None:
        raise NotFound("comment not found")
    return comment


@retried
async def edit(db: Database, actor: Actor, comment_id: int, body: str) -> Row:
    async with db.transaction() as tx:
        found = await _own(tx, actor, comment_id)
        if not permissions.can_edit_comment(found["role"], actor, found["author_id"]):
            raise Forbidden("only its author can edit a comment")
        await comments.edit(tx, comment_id, body)
        comment = await comments.get(tx, comment_id)
        assert comment is not None
        event = await events.append(tx, found["project_id"], actor.id, "comment.updated",
                                    "comment", comment_id, {"comment": comment},
                                    task_id=comment["task_id"])
        await notifying.changed(tx, actor, event, text_before=found["body"], text_after=body,
                                text_field="body")
    return comment


@retried
async def delete(db: Database, actor: Actor, comment_id: int) -> None:
    async with db.transaction() as tx:
        found = await _own(tx, actor, comment_id)
        if not permissions.can_delete_comment(found["role"], actor, found["author_id"]):
            raise Forbidden("only its author or a project owner can delete a comment")
        await comments.delete(tx, comment_id)
        await events.append(tx, found["project_id"], actor.id, "comment.deleted", "comment",
                            comment_id, {"comment_id": comment_id, "task_id": found["task_id"],
                                         "card": await card_of(tx, found["task_id"])},
                            task_id=found["task_id"])
