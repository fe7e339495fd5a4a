"""Reading a Todoist project exported as CSV (Project menu → Export as a template → CSV).

Rows have `TYPE, CONTENT, DESCRIPTION, PRIORITY, INDENT, AUTHOR, RESPONSIBLE, DATE, …`:
sections become columns, tasks keep their order, an INDENT of 2 or more makes a
subtask of the task above, `@label` words in CONTENT become labels, notes become
comments on the task above. Todoist's p1 (PRIORITY 1) is Tasklette's urgent, p2
high, p3 medium and p4 none. A DATE Tasklette cannot read as a day (e.g. a
recurring "every monday") is kept in the description.
"""

from __future__ import annotations

import csv
import datetime
import io
import re

from tasklette.numbers import int_or_none
from tasklette.services.importing.plan import (
    NAME_MAX,
    InvalidImport,
    Person,
    Plan,
    PlanColumn,
    PlanComment,
    PlanLabel,
    PlanTask,
    clip,
    iso_time,
    plural,
)
from tasklette.services.users import USERNAME

PRIORITY = {"1": 4, "2": 3, "3": 2, "4": 0}
NO_SECTION = "No section"
PALETTE = ("#e5484d", "#f76b15", "#ffc53d", "#46a758", "#12a594", "#0090ff", "#6e56cf",
           "#d6409f", "#8d8d8d")
_LABEL = re.compile(r"(?<!\S)@([^\s@]+)")
_PERSON = re.compile(r"^(.*?)\s*\((\d+)\)\s*$")
_TIME = re.compile(r"[ ,T]+\d{1,2}:\d{2}(?::\d{2})?\s*([ap]m)?$", re.IGNORECASE)
_LINE = "\0line"  # where a row ends in the file, for messages; no header can be named so
_DAY_FORMATS = ("%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%b %d, %Y",
                "%B %d, %Y", "%Y/%m/%d")


def _rows(data: bytes) -> list[dict[str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidImport("this file is not UTF-8 text, as Todoist's CSV export is") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().upper() for name in next(reader, [])]
        if "TYPE" not in header or "CONTENT" not in header:
            raise InvalidImport(
                "this is not a Todoist CSV export: its first row should name the columns "
                "TYPE, CONTENT, DESCRIPTION, PRIORITY, INDENT, AUTHOR, RESPONSIBLE, DATE. "
                "In Todoist, open the project's menu, then Export as a template, then CSV")
        return [{**dict(zip(header, (cell.strip() for cell in row), strict=False)),
                 _LINE: str(reader.line_num)} for row in reader]
    except csv.Error as exc:
        raise InvalidImport(f"this CSV file cannot be read: {exc}") from None


def _person(cell: str) -> Person | None:
    """Todoist writes people as `Name (12345)`; the name may be someone's username here."""
    if not cell:
        return None
    match = _PERSON.match(cell)
    name = (match.group(1) if match else cell).strip() or cell
    username = name.lower()
    return Person(username if USERNAME.fullmatch(username) else None, name)


def day(cell: str) -> str | None:
    """The day a Todoist DATE cell names, when it names one day; None otherwise."""
    text = _TIME.sub("", cell.strip())
    for pattern in _DAY_FORMATS:
        try:
            return datetime.datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    return None


def _indent(row: dict[str, str]) -> int:
    """How deep a task is nested (1 at the top); InvalidImport for what is not a number."""
    cell = row.get("INDENT", "")
    if not cell:
        return 1
    indent = int_or_none(cell, max_digits=3)
    if indent is None:
        raise InvalidImport(f"line {row[_LINE]}: INDENT must be a whole number written in "
                            f"the digits 0-9, like 1 or 2, not {cell[:20]!r}")
    return indent


class _Reader:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.column: PlanColumn | None = None
        self.stack: list[PlanTask] = []  # the last task at each indent
        self.labels: dict[str, PlanLabel] = {}
        self.undated: int = 0
        self.orphan_notes: int = 0

    def section(self, row: dict[str, str]) -> None:
        self.column = PlanColumn(clip(row.get("CONTENT", ""), NAME_MAX) or "Untitled section")
        self.plan.columns.append(self.column)
        self.stack = []

    def _label_keys(self, content: str) -> tuple[str, list[str]]:
        keys = []
        for name in _LABEL.findall(content):
            key = clip(name, NAME_MAX).lower()
            if key not in self.labels:
                color = PALETTE[len(self.labels) % len(PALETTE)]
                self.labels[key] = PlanLabel(key, clip(name, NAME_MAX), color)
                self.plan.labels.append(self.labels[key])
            keys.append(key)
        return " ".join(_LABEL.sub("", content).split()), keys

    def task(self, row: dict[str, str]) -> None:
        title, keys = self._label_keys(row.get("CONTENT", ""))
        description = row.get("DESCRIPTION", "")
        when = row.get("DATE", "") or row.get("DEADLINE", "")
        due = day(when) if when else None
        if when and due is None:
            self.undated += 1
            note = f"Todoist date: {when}"
            description = f"{description}\n\n{note}" if description else note
        responsible = _person(row.get("RESPONSIBLE", ""))
        task = PlanTask(title=title or "Untitled task", description=description,
                        priority=PRIORITY.get(row.get("PRIORITY", ""), 0), due_date=due,
                        labels=keys, assignees=[responsible] if responsible else [])
        indent = _indent(row)
        depth = min(max(indent, 1), len(self.stack) + 1)
        if depth == 1:
            if self.column is None:
                self.section({"CONTENT": NO_SECTION})
            assert self.column is not None
            self.column.tasks.append(task)
        else:
            self.stack[depth - 2].subtasks.append(task)
        del self.stack[depth - 1:]
        self.stack.append(task)

    def note(self, row: dict[str, str]) -> None:
        body = row.get("CONTENT", "").strip()
        if not body:
            return
        if not self.stack:
            self.orphan_notes += 1
            return
        when = row.get("DATE", "")
        self.stack[-1].comments.append(PlanComment(
            body, _person(row.get("AUTHOR", "")), iso_time(when) or (
                f"{day(when)}T00:00:00.000000Z" if when and day(when) else None)))


def read(data: bytes, name: str | None = None) -> Plan:
    """The plan of a Todoist CSV export; InvalidImport when it is not one."""
    plan = Plan("todoist", name or "Todoist project")
    reader = _Reader(plan)
    others = 0
    for row in _rows(data):
        kind = row.get("TYPE", "").lower()
        if kind == "section":
            reader.section(row)
        elif kind == "task":
            reader.task(row)
        elif kind == "note":
            reader.note(row)
        elif kind not in ("", "meta"):
            others += 1
    if not plan.columns:
        plan.columns.append(PlanColumn("To do"))
    if reader.undated:
        plan.skipped.append(f"{plural(reader.undated, 'date')} that name no single day, such "
                            "as recurring ones (kept in the task's description)")
    if reader.orphan_notes:
        plan.skipped.append(plural(reader.orphan_notes, "note") + " above every task")
    if others:
        plan.skipped.append(plural(others, "row") + " of a TYPE other than task, section "
                            "or note")
    return plan
