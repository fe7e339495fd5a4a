"""Reading a Trello board export (Board menu → Print, export and share → Export as JSON).

Lists become columns and cards tasks, in Trello's order; archived lists and cards
are skipped and counted. Labels keep their colour (an unnamed label is named after
it), checklist items become subtasks with their checked state, `commentCard`
actions become comments with their author and date. Card members become assignees
when someone here has the same username; attachments (which need a Trello login to
download), custom fields and the names of people without an account are written
into the description. Fields this reader does not know are ignored.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from tasklette.numbers import NotANumber, parse_hex
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
    iso_day,
    iso_time,
    plural,
)

Obj = dict[str, Any]

# Trello's label colours (the current palette), by name; "_light"/"_dark" variants too.
COLORS = {
    "green": "#4bce97", "yellow": "#f5cd47", "orange": "#fea362", "red": "#f87168",
    "purple": "#9f8fef", "blue": "#579dff", "sky": "#6cc3e0", "lime": "#94c748",
    "pink": "#e774bb", "black": "#8590a2",
    "green_dark": "#1f845a", "yellow_dark": "#946f00", "orange_dark": "#c25100",
    "red_dark": "#c9372c", "purple_dark": "#6e5dc6", "blue_dark": "#0c66e4",
    "sky_dark": "#227d9b", "lime_dark": "#5b7f24", "pink_dark": "#ae4787",
    "black_dark": "#626f86",
    "green_light": "#baf3db", "yellow_light": "#f8e6a0", "orange_light": "#fedec8",
    "red_light": "#ffd5d2", "purple_light": "#dfd8fd", "blue_light": "#cce0ff",
    "sky_light": "#c6edfb", "lime_light": "#d3f1a7", "pink_light": "#fdd0ec",
    "black_light": "#dcdfe4",
}
NO_COLOR = "#b3b9c4"
COMMENT_ACTIONS = ("commentCard", "copyCommentCard")


def _objects(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _obj(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _position(item: Obj) -> float:
    pos = item.get("pos")
    return float(pos) if isinstance(pos, int | float) and not isinstance(pos, bool) else 0.0


def _ordered(items: list[Obj]) -> list[Obj]:
    """Trello's order: by `pos`, ties in file order."""
    return [item for _, _, item in sorted(
        (_position(item), i, item) for i, item in enumerate(items))]


def _created(trello_id: Any) -> str | None:
    """When a Trello object was made: the first 4 bytes of its id are a Unix time."""
    text = _text(trello_id)
    if len(text) != 24:
        return None
    try:
        seconds = parse_hex(text[:8])
    except NotANumber:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def _check(board: Any) -> Obj:
    if not isinstance(board, dict) or not isinstance(board.get("lists"), list) \
            or not isinstance(board.get("cards"), list):
        raise InvalidImport(
            "this is not a Trello board export: it has no lists and cards. In Trello, open "
            "the board's menu, then Print, export and share, then Export as JSON")
    return board


def _labels(board: Obj, plan: Plan) -> None:
    taken: set[str] = set()
    for label in _objects(board.get("labels")):
        color_name = _text(label.get("color"))
        name = clip(_text(label.get("name")), NAME_MAX) or \
            (color_name.replace("_", " ").capitalize() or "Label")
        candidate, number = name, 2
        while candidate.lower() in taken:
            candidate = f"{clip(name, NAME_MAX - 4)} {number}"
            number += 1
        taken.add(candidate.lower())
        plan.labels.append(PlanLabel(_text(label.get("id")), candidate,
                                     COLORS.get(color_name, NO_COLOR),
                                     _created(label.get("id"))))


def _people(board: Obj) -> dict[str, Person]:
    people = {}
    for member in _objects(board.get("members")):
        username = _text(member.get("username")).lower() or None
        name = _text(member.get("fullName")) or username or "A Trello member"
        people[_text(member.get("id"))] = Person(username, name)
    return people


def _comments(board: Obj) -> dict[str, list[PlanComment]]:
    by_card: dict[str, list[PlanComment]] = defaultdict(list)
    actions = [a for a in _objects(board.get("actions")) if a.get("type") in COMMENT_ACTIONS]
    for action in sorted(actions, key=lambda a: _text(a.get("date"))):
        data = _obj(action.get("data"))
        card = _obj(data.get("card"))
        text = _text(data.get("text")).strip()
        if not text or not _text(card.get("id")):
            continue
        creator = _obj(action.get("memberCreator"))
        username = _text(creator.get("username")).lower() or None
        author = Person(username, _text(creator.get("fullName")) or username or
                        "A Trello member")
        by_card[_text(card.get("id"))].append(PlanComment(
            text, author, iso_time(action.get("date")), iso_time(data.get("dateLastEdited"))))
    return by_card


def _subtasks(card: Obj, checklists: dict[str, list[Obj]], people: dict[str, Person]
              ) -> list[PlanTask]:
    lists = _ordered(checklists.get(_text(card.get("id")), []))
    subtasks = []
    for checklist in lists:
        prefix = f"{_text(checklist.get('name'))}: " if len(lists) > 1 else ""
        for item in _ordered(_objects(checklist.get("checkItems"))):
            done = item.get("state") == "complete"
            member = people.get(_text(item.get("idMember")))
            subtasks.append(PlanTask(
                title=clip(prefix + _text(item.get("name")), 500) or "Untitled item",
                completed=done, completed_at=None, due_date=iso_day(item.get("due")),
                assignees=[member] if member else [], created_at=_created(item.get("id"))))
    return subtasks


def _custom_fields(card: Obj, fields: dict[str, Obj]) -> list[str]:
    shown = []
    for item in _objects(card.get("customFieldItems")):
        field = fields.get(_text(item.get("idCustomField")))
        if field is None:
            continue
        value = _obj(item.get("value"))
        if field.get("type") == "list":
            options = {_text(o.get("id")): o for o in _objects(field.get("options"))}
            option = options.get(_text(item.get("idValue")), {})
            text = _text(_obj(option.get("value")).get("text"))
        elif "checked" in value:
            text = "yes" if value.get("checked") in ("true", True) else "no"
        elif "date" in value:
            text = iso_day(value.get("date")) or _text(value.get("date"))
        else:
            text = _text(value.get("text") or value.get("number"))
        if text:
            shown.append(f"{_text(field.get('name')) or 'Field'}: {text}")
    return shown


def _description(card: Obj, fields: dict[str, Obj], plan: Plan) -> str:
    """The card's description, with what has no field of its own written after it."""
    parts = [_text(card.get("desc")).strip()]
    attachments = [a for a in _objects(card.get("attachments")) if _text(a.get("url"))]
    if attachments:
        plan.links += len(attachments)
        lines = ["Attachments (on Trello):"]
        for attachment in attachments:
            name = _text(attachment.get("name")) or _text(attachment.get("url"))
            name = name.replace("[", "(").replace("]", ")")
            lines.append(f"- [{name}]({_text(attachment['url']).replace(')', '%29')})")
        parts.append("\n".join(lines))
    custom = _custom_fields(card, fields)
    if custom:
        parts.append("Custom fields: " + "; ".join(custom))
    return "\n\n".join(part for part in parts if part)


def read(data: Any, name: str | None = None) -> Plan:
    """The plan of a parsed Trello board export; InvalidImport when it is not one."""
    board = _check(data)
    plan = Plan("trello", name or _text(board.get("name")) or "Trello board",
                description=_text(board.get("desc")), created_at=_created(board.get("id")))
    _labels(board, plan)
    people = _people(board)
    comments = _comments(board)
    checklists: dict[str, list[Obj]] = defaultdict(list)
    for checklist in _objects(board.get("checklists")):
        checklists[_text(checklist.get("idCard"))].append(checklist)
    fields = {_text(f.get("id")): f for f in _objects(board.get("customFields"))}
    label_keys = {label.key for label in plan.labels}
    columns: dict[str, PlanColumn] = {}
    archived_lists = 0
    for trello_list in _ordered(_objects(board.get("lists"))):
        if trello_list.get("closed"):
            archived_lists += 1
            continue
        column = PlanColumn(clip(_text(trello_list.get("name")), NAME_MAX) or "Untitled list",
                            created_at=_created(trello_list.get("id")),
                            ref=_text(trello_list.get("id")))
        columns[_text(trello_list.get("id"))] = column
        plan.columns.append(column)
    skipped_cards = orphans = 0
    for card in _ordered(_objects(board.get("cards"))):
        target = columns.get(_text(card.get("idList")))
        if card.get("closed") or target is None:
            skipped_cards += 1
            orphans += 0 if card.get("closed") else 1
            continue
        ids = _list(card.get("idLabels")) or [label.get("id")
                                              for label in _objects(card.get("labels"))]
        completed = card.get("dueComplete") is True
        target.tasks.append(PlanTask(
            title=_text(card.get("name")).strip() or "Untitled card",
            description=_description(card, fields, plan),
            due_date=iso_day(card.get("due")), start_date=iso_day(card.get("start")),
            completed=completed,
            completed_at=iso_time(card.get("dateLastActivity")) if completed else None,
            labels=[key for key in ids if isinstance(key, str) and key in label_keys],
            assignees=[people.get(_text(i), Person(None, "A Trello member"))
                       for i in _list(card.get("idMembers")) if isinstance(i, str)],
            comments=comments.get(_text(card.get("id")), []),
            subtasks=_subtasks(card, checklists, people),
            created_at=_created(card.get("id")),
            updated_at=iso_time(card.get("dateLastActivity"))))
    if archived_lists:
        plan.skipped.append(f"{plural(archived_lists, 'archived list')} and their cards")
    if skipped_cards - orphans:
        plan.skipped.append(plural(skipped_cards - orphans, "archived card"))
    if orphans:
        plan.skipped.append(f"{plural(orphans, 'card')} in archived or missing lists")
    return plan
