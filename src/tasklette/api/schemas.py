"""Request and response models of the JSON API: they validate input and make the OpenAPI."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_ID = 2**63 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Markdown = Annotated[str, StringConstraints(max_length=100_000)]
CommentBody = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=20_000)]
Color = Annotated[str, Field(pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
                             examples=["#e5484d"])]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=40)]
Role = Literal["owner", "editor", "viewer"]
Priority = Literal["none", "low", "medium", "high", "urgent"]
Position = Annotated[int, Field(ge=0, le=1_000_000)]


class Body(BaseModel):
    """A request body: unknown fields and wrong types are refused, not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters: strings from the URL, converted, unknown names refused."""

    model_config = ConfigDict(extra="forbid")


# --- requests -------------------------------------------------------------------------


class ProjectCreate(Body):
    name: Name
    description: Markdown = ""


class ProjectUpdate(Body):
    name: Name | None = None
    description: Markdown | None = None
    archived: bool | None = None


class MemberAdd(Body):
    username: Username
    role: Role = "editor"


class MemberUpdate(Body):
    role: Role


class ColumnCreate(Body):
    name: Name
    position: Position | None = Field(None, description="0-based place; default: last")


class ColumnUpdate(Body):
    name: Name | None = None
    position: Position | None = Field(None, description="0-based place on the board")


class ColumnDeleteQuery(Query):
    move_to: Id | None = Field(None, description="column that receives the tasks")


class TaskCreate(Body):
    title: Title
    description: Markdown = ""
    column_id: Id | None = Field(None, description="default: the first column")
    parent_task_id: Id | None = Field(None, description="makes this a subtask of that task")
    position: Position | None = Field(None, description="0-based place; default: last")
    priority: Priority = "none"
    start_date: datetime.date | None = None
    due_date: datetime.date | None = None
    completed: bool = False
    label_ids: list[Id] = Field(default_factory=list, max_length=100)
    assignees: list[Username] = Field(default_factory=list, max_length=100,
                                      description="usernames of project members")


class TaskUpdate(Body):
    version: Id | None = Field(None, description="the version you read (or send If-Match)")
    title: Title | None = None
    description: Markdown | None = None
    column_id: Id | None = Field(None, description="moves the task to the end of that column")
    priority: Priority | None = None
    start_date: datetime.date | None = None
    due_date: datetime.date | None = None
    completed: bool | None = None
    label_ids: list[Id] | None = Field(None, max_length=100)
    assignees: list[Username] | None = Field(None, max_length=100)


class TaskMove(Body):
    column_id: Id | None = Field(None, description="target column; default: the current one")
    position: Position | None = Field(None, description="0-based place; default: last")


class TaskListQuery(Query):
    column: Id | None = None
    label: Id | None = None
    assignee: Username | None = Field(None, description="a username, or 'me'")
    priority: str | None = Field(None, description="one or more of none, low, medium, high, "
                                                   "urgent, separated by commas")
    due_before: datetime.date | None = Field(None, description="due strictly before this day")
    due_after: datetime.date | None = Field(None, description="due strictly after this day")
    completed: bool | None = None
    q: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="text the title or description contains")
    parent: Annotated[str, Field(pattern=r"^(any|[1-9][0-9]{0,17})$")] | None = Field(
        None, description="default: top-level tasks only; a task id: its subtasks; 'any': all")
    sort: Literal["position", "-position", "created", "-created", "updated", "-updated",
                  "due", "-due", "priority", "-priority", "title", "-title"] = "position"
    cursor: Annotated[str, StringConstraints(max_length=1000)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class LabelCreate(Body):
    name: Name
    color: Color


class LabelUpdate(Body):
    name: Name | None = None
    color: Color | None = None


class CommentCreate(Body):
    body: CommentBody


class TokenCreate(Body):
    name: Name


class ActivityQuery(Query):
    before: Id | None = Field(None, description="only events older than this event id")
    limit: Annotated[int, Field(ge=1, le=200)] = 50


# --- responses ------------------------------------------------------------------------


class UserRef(BaseModel):
    id: int
    username: str
    display_name: str


class Me(UserRef):
    is_admin: bool


class Project(BaseModel):
    id: int
    name: str
    description: str
    archived: bool
    role: Role
    task_count: int
    open_task_count: int
    created_at: str
    updated_at: str


class Member(UserRef):
    role: Role
    added_at: str


class Column(BaseModel):
    id: int
    project_id: int
    name: str
    position: int
    task_count: int
    created_at: str


class LabelRef(BaseModel):
    id: int
    name: str
    color: str


class Label(LabelRef):
    project_id: int
    created_at: str
    task_count: int | None = None


class SubtaskRef(BaseModel):
    id: int
    title: str
    completed: bool
    due_date: str | None


class Task(BaseModel):
    id: int
    project_id: int
    column_id: int | None
    parent_task_id: int | None
    position: int
    title: str
    description: str
    priority: Priority
    start_date: str | None
    due_date: str | None
    completed: bool
    completed_at: str | None
    version: int
    created_by: int | None
    created_at: str
    updated_by: int | None
    updated_at: str
    labels: list[LabelRef]
    assignees: list[UserRef]
    comment_count: int
    subtask_count: int
    subtasks_completed: int
    subtasks: list[SubtaskRef] | None = None


class TaskPage(BaseModel):
    items: list[Task]
    next_cursor: str | None


class Comment(BaseModel):
    id: int
    task_id: int
    author_id: int | None
    author_username: str | None
    author_display_name: str | None
    body: str
    created_at: str
    edited_at: str | None


class Event(BaseModel):
    id: int
    project_id: int | None
    actor_id: int | None
    actor_username: str | None
    kind: str
    entity_type: str
    entity_id: int
    task_id: int | None
    payload: dict[str, object]
    created_at: str


class EventPage(BaseModel):
    items: list[Event]
    next_before: int | None


class Token(BaseModel):
    id: int
    user_id: int
    name: str
    token_prefix: str
    created_at: str
    revoked_at: str | None


class TokenCreated(Token):
    token: str = Field(description="the secret; shown only in this response")


class FieldError(BaseModel):
    field: str | None
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
