"""Request and response models of watching and notifications (see api/schemas.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tasklette.api.schemas import Body, Id, Kept, Query, _query_number

MAX_READ_IDS = 500


class WatchState(BaseModel):
    watching: bool = Field(description="whether its activity notifies me")
    project: bool = Field(description="whether I watch the whole project")


class NotificationListQuery(Query):
    unread: bool = Field(False, description="only notifications not read yet")
    cursor: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,17}$")] | None = Field(
        None, description="the `next_cursor` of the page before")
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(_query_number)] = 50


class NotificationsRead(Body):
    """Either `ids` (mine, each known) or `all: true`; not both."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["ids"]}, {"required": ["all"]}]})

    ids: Kept[Annotated[list[Id], Field(min_length=1, max_length=MAX_READ_IDS)]] = None
    all: Kept[Literal[True]] = None

    @model_validator(mode="after")
    def _one_of(self) -> NotificationsRead:
        if (self.ids is None) == (self.all is None):
            raise ValueError("send either `ids` (a list of notification ids) or "
                             "`all: true`, not both")
        return self


NotificationKind = Literal["assigned", "mentioned", "commented", "changed"]


class Notification(BaseModel):
    id: int
    kind: NotificationKind = Field(description="assigned (to me), mentioned (me), commented "
                                               "or changed (a task I watch)")
    project_id: int
    project_name: str
    task_id: int
    task_title: str
    event_id: int
    actor_id: int | None
    actor_username: str | None
    actor_display_name: str | None
    detail: dict[str, object] = Field(description="event_kind; changes (column_id, due_date, "
                                                  "completed); comment_id and excerpt")
    created_at: str
    read_at: str | None


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None
    unread_count: int


class UnreadCount(BaseModel):
    unread_count: int


class NotificationCountFrame(BaseModel):
    """The first frame of my stream (`/me/events`): how many notifications are unread."""

    unread_count: int


class NotificationFrame(NotificationCountFrame):
    """A frame of my stream for new notifications: the newest one's id, the new count."""

    user_id: int
    notification_id: int
