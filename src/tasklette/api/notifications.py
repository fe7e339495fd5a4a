"""API views for my notifications."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tasklette.api import notification_schemas as schemas
from tasklette.services import notifications
from tasklette.services.permissions import Actor


async def list_notifications(request: Request, actor: Actor,
                             query: schemas.NotificationListQuery) -> Any:
    page = await notifications.list_mine(request.app.state.db, actor,
                                         unread_only=query.unread, cursor=query.cursor,
                                         limit=query.limit)
    return page.as_json()


async def read_notifications(request: Request, actor: Actor,
                             body: schemas.NotificationsRead) -> Any:
    left = await notifications.mark_read(request.app.state.db, actor, body.ids)
    return {"unread_count": left}
