"""Request and response models of the JSON API: they validate input and make the OpenAPI."""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    StringConstraints,
)
from pydantic_core import CoreSchema, ErrorDetails

from tasklette.numbers import NotANumber, parse_int
from tasklette.services.users import USERNAME_RULE

MAX_ID = 2**63 - 1

# What pydantic's strip_whitespace removes (Unicode White_Space), spelt out so that the
# pattern means the same in every regex engine that reads the document.
_WHITE_SPACE = r"\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# PostgreSQL cannot store U+0000 in text, and it is no character anyone types: refused.
_NO_NUL = r"^[^\x00]*$"
_NOT_BLANK = rf"^[^\x00]*[^\x00{_WHITE_SPACE}][^\x00]*$"


def _whole_number(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (JSON Schema agrees); 3.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _query_number(value: Any) -> Any:
    """A query-string integer is ASCII digits, nothing else (no '+', '_', spaces, '1.0')."""
    if isinstance(value, str):
        try:
            return parse_int(value, max_digits=19, signed=True)
        except NotANumber:
            raise ValueError("must be a whole number, written in digits") from None
    return value


def _iso_date(value: Any) -> Any:
    """A date is written YYYY-MM-DD: no timestamps, no times."""
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError("a date is written YYYY-MM-DD, e.g. 2026-12-01")
        return datetime.date.fromisoformat(value)  # ValueError for a day that is not
    return value


def _without_null(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    """Validate and document only the type that is not None: null is no value here."""
    [kept] = [arg for arg in get_args(source) if arg is not type(None)]
    return handler(kept)


def _text(max_length: int, *, required: bool = True) -> Any:
    """Text trimmed of white space at both ends; when `required`, something must be left."""
    if not required:
        return StringConstraints(strip_whitespace=True, max_length=max_length, pattern=_NO_NUL)
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length,
                             pattern=_NOT_BLANK)


_COLOR = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
_USERNAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
# A pattern is how the document states a rule; a person is told the rule in words.
_PATTERN_MESSAGES = {
    _NO_NUL: "must not contain the NUL character (U+0000)",
    _NOT_BLANK: "must not contain the NUL character (U+0000)",  # blank: min_length says so
    _COLOR: "a colour is written #rgb or #rrggbb, e.g. #e5484d",
    _USERNAME: USERNAME_RULE,
}


def error_message(error: ErrorDetails) -> str:
    """What a validation error says to a person (a pattern's rule in words)."""
    if error["type"] == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        if pattern in _PATTERN_MESSAGES:
            return _PATTERN_MESSAGES[pattern]
    return error["msg"]


V = TypeVar("V")
# A field of a change that may be left out but not sent as null (nothing to clear).
Kept = Annotated[V | None, GetPydanticSchema(_without_null)]

Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_whole_number)]
QueryId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_query_number)]
Date = Annotated[datetime.date, BeforeValidator(_iso_date)]
Name = Annotated[str, _text(100)]
Title = Annotated[str, _text(500)]
Markdown = Annotated[str, StringConstraints(max_length=100_000, pattern=_NO_NUL)]
CommentBody = Annotated[str, _text(20_000)]
Color = Annotated[str, Field(pattern=_COLOR,
                             examples=["#e5484d"])]
# Case-insensitive (stored in lower case); services/users.py holds the same rule.
Username = Annotated[str, Field(pattern=_USERNAME,
                                examples=["alice"])]
# A filter by username: a name nobody has matches nothing (it is not refused).
UserFilter = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=_NO_NUL)]
Role = Literal["owner", "editor", "viewer"]
Priority = Literal["none", "low", "medium", "high", "urgent"]
Position = Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(_whole_number)]
ImportSource = Literal["trello", "todoist", "tasklette"]


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
    name: Kept[Name] = None
    description: Kept[Markdown] = None
    archived: Kept[bool] = None


class MemberAdd(Body):
    username: Username
    role: Role = "editor"


class MemberUpdate(Body):
    role: Role


class ColumnCreate(Body):
    name: Name
    position: Position | None = Field(None, description="0-based place; default: last")


class ColumnUpdate(Body):
    name: Kept[Name] = None
    position: Kept[Position] = Field(None, description="0-based place on the board")


class ColumnDeleteQuery(Query):
    move_to: QueryId | None = Field(None, description="column that receives the tasks")


class TaskCreate(Body):
    title: Title
    description: Markdown = ""
    column_id: Id | None = Field(None, description="default: the first column")
    parent_task_id: Id | None = Field(None, description="makes this a subtask of that task")
    position: Position | None = Field(None, description="0-based place; default: last")
    priority: Priority = "none"
    start_date: Date | None = None
    due_date: Date | None = None
    completed: bool = False
    label_ids: list[Id] = Field(default_factory=list, max_length=100)
    assignees: list[Username] = Field(default_factory=list, max_length=100,
                                      description="usernames of project members")


class TaskUpdate(Body):
    version: Id | None = Field(None, description="the version you read (or send If-Match)")
    title: Kept[Title] = None
    description: Kept[Markdown] = None
    column_id: Kept[Id] = Field(None, description="moves the task to the end of that column")
    priority: Kept[Priority] = None
    start_date: Date | None = None
    due_date: Date | None = None
    completed: Kept[bool] = None
    label_ids: Kept[Annotated[list[Id], Field(max_length=100)]] = None
    assignees: Kept[Annotated[list[Username], Field(max_length=100)]] = None


class TaskMove(Body):
    column_id: Id | None = Field(None, description="target column; default: the current one")
    position: Position | None = Field(None, description="0-based place; default: last")


_PRIORITY = "(?:none|low|medium|high|urgent)"
_PRIORITIES = f"^ *(?:{_PRIORITY} *)?(?:, *(?:{_PRIORITY} *)?)*$"


class TaskListQuery(Query):
    column: QueryId | None = None
    label: QueryId | None = None
    assignee: UserFilter | None = Field(None, description="a username, or 'me'")
    priority: str | None = Field(None, description="one or more of none, low, medium, high, "
                                                   "urgent, separated by commas",
                                 json_schema_extra={"pattern": _PRIORITIES})
    due_before: Date | None = Field(None, description="due strictly before this day")
    due_after: Date | None = Field(None, description="due strictly after this day")
    completed: bool | None = None
    q: Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)] | None = Field(
        None, description="text the title or description contains")
    parent: Annotated[str, Field(pattern=r"^(any|[1-9][0-9]{0,17})$")] | None = Field(
        None, description="default: top-level tasks only; a task id: its subtasks; 'any': all")
    sort: Literal["position", "-position", "created", "-created", "updated", "-updated",
                  "due", "-due", "priority", "-priority", "title", "-title"] = "position"
    cursor: Annotated[str, StringConstraints(max_length=1000, pattern=_NO_NUL)] | None = None
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(_query_number)] = 50


class LabelCreate(Body):
    name: Name
    color: Color


class LabelUpdate(Body):
    name: Kept[Name] = None
    color: Kept[Color] = None


class CommentCreate(Body):
    body: CommentBody


class TokenCreate(Body):
    name: Name


# Kind groups of the activity filter: "task" is task.created, task.moved and the rest.
ActivityKind = Literal["task", "comment", "column", "label", "member", "project", "attachment"]


class ActivityQuery(Query):
    before: QueryId | None = Field(None, description="only events older than this event id")
    actor: UserFilter | None = Field(None, description="only events by this user (a username; "
                                                     "one nobody has gives no events)")
    kind: ActivityKind | None = Field(None, description="only events of this kind group, "
                                                        "e.g. 'task' for every task.* kind")
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(_query_number)] = 50


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


class StreamedEvent(BaseModel):
    """The `data` of an event frame (`id` is the event id, `event` its kind)."""

    id: int
    project_id: int | None
    actor_id: int | None
    kind: str
    entity_type: str
    entity_id: int
    task_id: int | None
    payload: dict[str, object]
    created_at: str


class Event(StreamedEvent):
    """An event as the activity lists it: with its actor's username."""

    actor_username: str | None


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
    after: Annotated[int, Field(ge=0), BeforeValidator(_query_number)] | None = Field(
        None, description="replay the events after this event id first (a `Last-Event-ID` "
                          "header, which browsers send when they reconnect, wins over it)")
    presence: bool = Field(False, description="count this stream as a person viewing the "
                                              "board (browsers' board pages do)")


class PresenceFrame(BaseModel):
    """The `data` of a `presence` frame: who has the board open now (it has no `id`)."""

    project_id: int
    user_ids: list[int]


class ClosedFrame(BaseModel):
    """The `data` of the `stream.closed` frame the server sends before it ends a stream."""

    reason: str


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

# The service explains a blank search (an empty one is a 422 too): the document says it.
SearchText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500),
                       Field(json_schema_extra={"minLength": 1,
                                                "pattern": f"[^{_WHITE_SPACE}]"})]


class ProjectSearchQuery(Query):
    q: SearchText = Field(description='words, "exact phrases", word* and filters: '
                                          "label:bug assignee:me priority:high "
                                          'due:<2026-12-01 due:overdue is:open column:"In '
                                          'progress" (required: an empty search is a 422)')
    limit: Annotated[int, Field(ge=1, le=100), BeforeValidator(_query_number)] = 20
    offset: Annotated[int, Field(ge=0, le=10_000), BeforeValidator(_query_number)] = 0


class SearchQuery(ProjectSearchQuery):
    project: QueryId | None = Field(None, description="search this project only")


class SavedViewCreate(Body):
    name: Name
    query: Annotated[str, _text(2000, required=False)] = Field(
        "", description="the list view's query string, e.g. label=3&sort=-due (the "
                        "parameters of GET /projects/{id}/tasks, without cursor)")


class SavedViewUpdate(Body):
    name: Kept[Name] = None
    query: Annotated[str, _text(2000, required=False)] | None \
        = None


class PathParameters(BaseModel):
    """The parts of API paths that are not ids (ids are positive 64-bit integers)."""

    username: Username
    source: ImportSource


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
    source: ImportSource
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
