"""The board page: a project's columns of cards, quick-add, and managing columns.

Dragging cards and columns goes through the JSON API (board.js); the forms here are
plain POSTs that also work without JavaScript, and quick-add answers htmx with the
new card alone.
"""

from __future__ import annotations

import datetime
import functools
import operator
from typing import Annotated, Any

import orjson
from markupsafe import Markup
from pydantic import BaseModel, BeforeValidator
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.schemas import ColumnCreate, ColumnUpdate, Id, TaskCreate
from tasklette.live import streams
from tasklette.services import columns, permissions, tasks
from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.sessions import Session
from tasklette.web.auth import require_session
from tasklette.web.pages import Form, read_form, redirect, render, templates

# Cards of a column drawn in the page; the rest travel as data (`board_data`) that
# board.js draws as the column is scrolled, filtered or changed live.
FIRST_CARDS = 40
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


class ColumnDeleteForm(BaseModel):
    move_to: Annotated[Id | None, BeforeValidator(_empty_is_none)] = None


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@functools.lru_cache(maxsize=1024)
def short_date(iso: str, today: str) -> str:
    """`2026-05-31` as `31 May`, with the year when it is not this year's."""
    year, month, day = iso[:4], int(iso[5:7]), int(iso[8:10])
    text = f"{day} {MONTHS[month - 1]}"
    return text if year == today[:4] else f"{text} {year}"


def initials(name: str) -> str:
    """`Ana Souza` as `AS`; one word gives its first letter."""
    words = name.split()
    return "".join(word[0] for word in words[:2]).upper() if words else "?"


def card_macros() -> Any:
    """The macros of templates/board/_card.html (`card`, `label_chip`, `person_chip`)."""
    return templates.get_template("board/_card.html").module


def card_view(task: dict[str, Any], today: str, macros: Any = None) -> dict[str, Any]:
    """Add what a card shows beyond the task's fields: due text, overdue, chips."""
    # A board's tasks share their label and person dicts, so each chip is rendered
    # once per board rather than once per card.
    macros = macros or card_macros()
    for label in task["labels"]:
        if "chip" not in label:
            label["chip"] = macros.label_chip(label)
    for person in task["assignees"]:
        if "chip" not in person:
            person["initials"] = initials(person["display_name"] or person["username"])
            person["chip"] = macros.person_chip(person)
    due = task["due_date"]
    task["due_text"] = short_date(due, today) if due else ""
    task["overdue"] = bool(due) and due < today and not task["completed"]
    return task


# What cards.js needs to draw a card: the task's fields the card shows, then its labels'
# and assignees' ids. Each card travels as a list of these, in this order.
CARD_FIELDS = ("id", "title", "completed", "version", "column_id", "priority", "due_date",
               "comment_count", "attachment_count", "subtask_count", "subtasks_completed",
               "labels", "assignees")
_VALUES = operator.itemgetter(*CARD_FIELDS[:-2])


def board_data(later: dict[int, list[dict[str, Any]]], today: str) -> Markup:
    """The cards not drawn in the page, as JSON safe inside a <script> data block.

    Labels and people are listed once and named by id from the cards."""
    labels: dict[int, dict[str, Any]] = {}
    people: dict[int, dict[str, Any]] = {}
    columns: dict[int, list[list[Any]]] = {}
    for column_id, rows in later.items():
        cards = columns[column_id] = []
        for task in rows:
            card = list(_VALUES(task))
            card.append([label["id"] for label in task["labels"]])
            card.append([person["id"] for person in task["assignees"]])
            for label in task["labels"]:
                if label["id"] not in labels:
                    labels[label["id"]] = {"name": label["name"], "color": label["color"]}
            for person in task["assignees"]:
                if person["id"] not in people:
                    people[person["id"]] = {"username": person["username"],
                                            "display_name": person["display_name"]}
            cards.append(card)
    data = orjson.dumps({"today": today, "fields": CARD_FIELDS, "labels": labels,
                         "people": people, "columns": columns},
                        option=orjson.OPT_NON_STR_KEYS)
    # As Jinja's `tojson` does: no `</script>` or `<!--` can close the block early.
    return Markup(data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e")
                  .replace(b"&", b"\\u0026").replace(b"'", b"\\u0027").decode())


def cards_context(cols: list[dict[str, Any]], rows: list[dict[str, Any]], today: str
                  ) -> dict[str, Any]:
    """What board.html needs of the cards: the first of each column to draw (`cards`),
    how many more each has (`later`) and those as data (`board_data`)."""
    macros = card_macros()
    drawn: dict[int, list[dict[str, Any]]] = {column["id"]: [] for column in cols}
    later: dict[int, list[dict[str, Any]]] = {column["id"]: [] for column in cols}
    for task in rows:
        column = drawn[task["column_id"]]
        if len(column) < FIRST_CARDS:
            column.append(card_view(task, today, macros))
        else:
            later[task["column_id"]].append(task)
    return {"cards": drawn, "today": today, "board_data": board_data(later, today),
            "later": {column_id: len(waiting) for column_id, waiting in later.items()}}


def today_iso() -> str:
    return datetime.date.today().isoformat()


def _message(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


async def _board(request: Request, session: Session, project_id: int, *,
                 forms: dict[str, Form] | None = None, status: int = 200) -> Response:
    """Render the board; `forms` holds a submitted form to show again with its errors."""
    db = request.app.state.db
    async with db.reading():  # one snapshot: the stream resumes right after these cards
        live = await streams.page_start(db, session.actor, project_id)
        project, cols, rows = await tasks.board(db, session.actor, project_id)
    return render(request, "board/board.html", {
        "project": project, "columns": cols, **cards_context(cols, rows, today_iso()),
        "tab": "board",
        "can_edit": permissions.can_edit(project["role"]), "forms": forms or {},
        "nav": "projects", "live": live}, status=status)


async def board_page(request: Request) -> Response:
    session = await require_session(request)
    return await _board(request, session, request.path_params["project_id"])


async def quick_add(request: Request) -> Response:
    """Create a task from a column's quick-add form; htmx gets the new card."""
    session = await require_session(request)
    project_id = request.path_params["project_id"]
    data, form = await read_form(request, TaskCreate, fields=("title", "column_id"))
    if data is not None:
        try:
            task = await tasks.create(request.app.state.db, session.actor, project_id,
                                      tasks.TaskFields(title=data.title,
                                                       column_id=data.column_id))
        except Invalid as exc:
            form.error("title", _message(exc.detail))
        else:
            if is_htmx(request):
                return render(request, "board/_card.html",
                              {"task": card_view(task, today_iso())},
                              status=201)
            return redirect(f"/projects/{project_id}", request)
    if is_htmx(request):
        # htmx does not swap error answers: the message goes to the page's toast.
        message = next(iter(form.errors.values()), "That task could not be added.")
        return Response(message, status_code=422, media_type="text/plain",
                        headers={"hx-reswap": "none"})
    column = form.values.get("column_id", "")
    return await _board(request, session, project_id, forms={f"add-{column}": form},
                        status=422)


async def add_column(request: Request) -> Response:
    session = await require_session(request)
    project_id = request.path_params["project_id"]
    data, form = await read_form(request, ColumnCreate, fields=("name",))
    if data is not None:
        await columns.create(request.app.state.db, session.actor, project_id, data.name)
        return redirect(f"/projects/{project_id}", request)
    return await _board(request, session, project_id, forms={"new-column": form},
                        status=422)


async def _column_of(request: Request, session: Session) -> dict[str, Any]:
    """The column named in the URL, if it belongs to the project named there."""
    project_id, column_id = request.path_params["project_id"], request.path_params["column_id"]
    for column in await columns.list_for_project(request.app.state.db, session.actor,
                                                 project_id):
        if column["id"] == column_id:
            return column
    raise NotFound("column not found")


async def rename_column(request: Request) -> Response:
    session = await require_session(request)
    data, form = await read_form(request, ColumnUpdate, fields=("name",))
    column = await _column_of(request, session)
    if data is not None and data.name is not None:
        await columns.update(request.app.state.db, session.actor, column["id"], data.name,
                             None)
        return redirect(f"/projects/{column['project_id']}", request)
    form.errors.setdefault("name", "Fill this in")
    return await _board(request, session, column["project_id"],
                        forms={f"rename-{column['id']}": form}, status=422)


async def delete_column(request: Request) -> Response:
    session = await require_session(request)
    data, form = await read_form(request, ColumnDeleteForm)
    column = await _column_of(request, session)
    status = 422
    if data is not None:
        try:
            await columns.delete(request.app.state.db, session.actor, column["id"],
                                 data.move_to)
        except (Conflict, Invalid) as exc:
            form.error("move_to", _message(exc.detail))
            status = exc.status
        else:
            return redirect(f"/projects/{column['project_id']}", request)
    return await _board(request, session, column["project_id"],
                        forms={f"delete-{column['id']}": form}, status=status)


async def card_fragment(request: Request) -> Response:
    """One card as the board shows it: what live updates swap in when a task changes."""
    session = await require_session(request)
    task = await tasks.get(request.app.state.db, session.actor, request.path_params["task_id"])
    if task["parent_task_id"] is not None:
        raise NotFound("a subtask has no card of its own")
    return render(request, "board/_card.html", {"task": card_view(task, today_iso())})
