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


# Kind groups of the activity filter: "task" is task.created, task.moved and the rest.
ActivityKind = Literal["task", "comment", "column", "label", "member", "project", "attachment"]


class ActivityQuery(Query):
    before: Id | None = Field(None, description="only events older than this event id")
    actor: Username | None = Field(None, description="only events by this user (a username; "
                                                     "one nobody has gives no events)")
    kind: ActivityKind | None = Field(None, description="only events of this kind group, "
                                                        "e.g. 'task' for every task.* kind")
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
    attachment_count: int = 0
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


class ProjectEvent(Event):
    task_exists: bool | None = Field(description="whether the event's task is still there "
                                                  "(false once deleted); null without a task")


class EventPage(BaseModel):
    items: list[ProjectEvent]
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


# --- event streams ----------------------------------------------------------------------


class StreamQuery(Query):
    after: Annotated[int, Field(ge=0)] | None = Field(
        None, description="replay the events after this event id first (a `Last-Event-ID` "
                          "header, which browsers send when they reconnect, wins over it)")
    presence: bool = Field(False, description="count this stream as a person viewing the "
                                              "board (browsers' board pages do)")


# --- attachments ------------------------------------------------------------------------


class Attachment(BaseModel):
    """A file on a task; download its bytes at /api/v1/attachments/{id}."""

    id: int
    task_id: int
    uploader_id: int | None
    uploader_username: str | None
    uploader_display_name: str | None
    filename: str = Field(description="for display only: path components and control "
                                      "characters removed")
    size: int = Field(description="bytes")
    sha256: str = Field(description="of the bytes, in hex; also the download's ETag")
    content_type: str = Field(description="found from the file's first bytes, not from "
                                          "what the uploader said")
    created_at: str


# --- search, saved views, import and export, calendar -----------------------------------

SearchText = Annotated[str, StringConstraints(max_length=500)]


class ProjectSearchQuery(Query):
    q: SearchText = Field("", description='words, "exact phrases", word* and filters: '
                                          "label:bug assignee:me priority:high "
                                          'due:<2026-12-01 due:overdue is:open column:"In '
                                          'progress" (required: an empty search is a 422)')
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=10_000)] = 0


class SearchQuery(ProjectSearchQuery):
    project: Id | None = Field(None, description="search this project only")


class SavedViewCreate(Body):
    name: Name
    query: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = Field(
        "", description="the list view's query string, e.g. label=3&sort=-due (the "
                        "parameters of GET /projects/{id}/tasks, without cursor)")


class SavedViewUpdate(Body):
    name: Name | None = None
    query: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None \
        = None


class ImportQuery(Query):
    project: Name | None = Field(None, description="name of the new project; default: the "
                                                   "file's (a taken name gets (2), (3)…)")


class ExportQuery(Query):
    format: Literal["json", "csv"] = Field("json", description="json: the whole project, "
                                           "importable; csv: one row per task")


class SearchSnippet(BaseModel):
    field: Literal["description", "comments"] | None
    text: str
    highlights: list[list[int]] = Field(description="[start, end) character offsets of "
                                                    "matches in text")


class SearchHit(BaseModel):
    id: int
    project_id: int
    project_name: str
    column_id: int | None
    column_name: str | None
    parent_task_id: int | None
    parent_title: str | None
    title: str
    title_highlights: list[list[int]]
    snippet: SearchSnippet
    priority: Priority
    due_date: str | None
    completed: bool
    updated_at: str
    labels: list[LabelRef]
    assignees: list[UserRef]
    comment_count: int


class SearchPage(BaseModel):
    items: list[SearchHit] = Field(description="best match first")
    next_offset: int | None
    ignored: list[str] = Field(description='words left out as too common ("the", "with")')


class SavedView(BaseModel):
    id: int
    project_id: int
    name: str
    query: str
    url: str = Field(description="the list view this opens")
    created_by: str | None
    created_at: str
    updated_at: str


class ImportResult(BaseModel):
    project_id: int
    name: str
    source: Literal["trello", "todoist", "tasklette"]
    columns: int
    tasks: int
    subtasks: int
    labels: int
    comments: int
    assigned: int
    links: int = Field(description="attachments recorded as links in descriptions")
    members_added: list[str]
    skipped: list[str] = Field(description="what the file had that was not imported")
    kept_as_text: list[str] = Field(description="people with no account here, named in text")


class CalendarFeed(BaseModel):
    active: bool
    created_at: str | None
    url: str | None = Field(None, description="the secret feed address: shown only when made")
