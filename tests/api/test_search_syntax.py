"""The search query syntax: one test per operator, on both engines, through the API."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tasklette.services import query_syntax
from tests.conftest import User, add_member

TODAY = datetime.date.today()


def day(offset: int) -> str:
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


@pytest.fixture
def board(owner: User, make_user: Any, project: dict[str, Any]) -> dict[str, Any]:
    """Five tasks that differ in one thing each, all mentioning "otter"."""
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    bug = owner.client.post(f"/api/v1/projects/{pid}/labels",
                            json={"name": "Bug", "color": "#e5484d"}).json()
    ui = owner.client.post(f"/api/v1/projects/{pid}/labels",
                           json={"name": "ui", "color": "#0090ff"}).json()
    columns = owner.client.get(f"/api/v1/projects/{pid}/columns").json()

    def task(title: str, **fields: Any) -> int:
        response = owner.client.post(f"/api/v1/projects/{pid}/tasks",
                                     json={"title": title, **fields})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    return {
        "ana": ana,
        "late": task("Feed the otter", due_date=day(-3), label_ids=[bug["id"]],
                     priority="high", assignees=[owner.username]),
        "today": task("Otter enclosure cleaning", due_date=day(0),
                      label_ids=[bug["id"], ui["id"]], assignees=[ana.username]),
        "future": task("Otter photo shoot", due_date=day(10), priority="urgent",
                       column_id=columns[1]["id"]),
        "done": task("Otter census", due_date=day(-5), completed=True, priority="low",
                     description="Counted: seven otters by the river bank"),
        "undated": task("Otter toys", column_id=columns[1]["id"]),
    }


def ids(user: User, q: str) -> set[int]:
    response = user.client.get("/api/v1/search", params={"q": q, "limit": 100})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def names(board: dict[str, Any], *keys: str) -> set[int]:
    return {board[key] for key in keys}


def test_free_words(owner: User, board: dict[str, Any]) -> None:
    everything = names(board, "late", "today", "future", "done", "undated")
    assert ids(owner, "otter") == everything
    assert ids(owner, "otter photo") == names(board, "future")


def test_exact_phrase(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, '"river bank"') == names(board, "done")
    assert ids(owner, '"bank river"') == set()
    assert ids(owner, '"enclosure cleaning" otter') == names(board, "today")


def test_prefix(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, "encl*") == names(board, "today")
    assert ids(owner, "cen*") == names(board, "done")


def test_label(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, "label:bug") == names(board, "late", "today")  # names: any case
    assert ids(owner, "label:bug label:ui") == names(board, "today")  # all of them
    assert ids(owner, "label:missing") == set()


def test_assignee(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, "assignee:me") == names(board, "late")
    assert ids(owner, f"assignee:{board['ana'].username}") == names(board, "today")
    assert ids(board["ana"], "assignee:me") == names(board, "today")
    assert ids(owner, "assignee:nobody-here") == set()


def test_priority(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, "priority:high") == names(board, "late")
    assert ids(owner, "priority:urgent,low") == names(board, "future", "done")
    assert ids(owner, "priority:none") == names(board, "today", "undated")


def test_due_comparisons(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, f"due:<{day(0)}") == names(board, "late", "done")
    assert ids(owner, f"due:<={day(0)}") == names(board, "late", "done", "today")
    assert ids(owner, f"due:>{day(0)}") == names(board, "future")
    assert ids(owner, f"due:>={day(0)}") == names(board, "today", "future")
    assert ids(owner, f"due:{day(10)}") == names(board, "future")
    assert ids(owner, f"due:>{day(-4)} due:<{day(1)}") == names(board, "late", "today")


def test_due_words(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, "due:overdue") == names(board, "late")  # done tasks are never late
    assert ids(owner, "due:today") == names(board, "today")
    assert ids(owner, "due:none") == names(board, "undated")


def test_status(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, "is:done") == names(board, "done")
    assert ids(owner, "is:open otter") == names(board, "late", "today", "future", "undated")


def test_column(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, 'column:"In progress"') == names(board, "future", "undated")
    assert ids(owner, 'column:"in PROGRESS" toys') == names(board, "undated")
    assert ids(owner, "column:done") == set()


def test_filters_and_words_together(owner: User, board: dict[str, Any]) -> None:
    assert ids(owner, "otter label:bug is:open priority:high due:overdue assignee:me") == \
        names(board, "late")
    assert ids(owner, "feed label:ui") == set()


def test_the_parser() -> None:
    parsed = query_syntax.parse('fix "login page" deplo* label:"needs review" assignee:@Ana '
                                "priority:high,urgent due:<=2026-12-01 due:overdue is:done "
                                "column:Doing")
    assert [(t.text, t.kind) for t in parsed.terms] == [
        ("fix", "word"), ("login page", "phrase"), ("deplo", "prefix")]
    assert parsed.labels == ["needs review"]
    assert parsed.assignees == ["ana"]
    assert parsed.priorities == ["high", "urgent"]
    assert parsed.due == [("<=", "2026-12-01"), ("overdue", "")]
    assert parsed.completed is True
    assert parsed.columns == ["doing"]
    assert query_syntax.parse("10:30 -- & !").terms == [query_syntax.Term("10:30")]
    assert query_syntax.parse("").is_empty()


@pytest.mark.parametrize("q", ["otter\x00", "\x00otter", "ot\x00ter census", '"feed\x00the otter"'])
def test_a_nul_in_a_search_is_a_space_not_a_server_error(owner: User, board: dict[str, Any],
                                                          q: str) -> None:
    # FTS5 reads NUL as the end of a string ("unterminated string"): found by schemathesis.
    expected = ids(owner, q.replace("\x00", " "))
    assert ids(owner, q) == expected
