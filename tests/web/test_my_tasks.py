"""My tasks: what is assigned to me across projects, grouped by when it is due."""

from __future__ import annotations

import datetime
import re
from typing import Any

import httpx

from tasklette.web.my_tasks import group_of
from tests.conftest import User, add_member
from tests.web.test_list_page import day, make_label, make_task


def groups(response: httpx.Response) -> dict[str, list[int]]:
    """Task ids of each group on the page, groups in page order."""
    found: dict[str, list[int]] = {}
    for match in re.finditer(r'data-group="([a-z]+)">(.*?)</section>', response.text, re.S):
        found[match.group(1)] = [int(i) for i in
                                 re.findall(r'data-task-id="(\d+)"', match.group(2))]
    return found


def test_tasks_are_grouped_by_due_date(browse: Any, owner: User, make_user: Any,
                                       project: dict[str, Any]) -> None:
    pid = project["id"]
    me = make_user("me")
    add_member(owner, pid, me, "editor")
    other = me.client.post("/api/v1/projects", json={"name": "Side project"}).json()
    mine = [me.username]
    overdue = make_task(owner, pid, "Was due", due_date=day(-3), assignees=mine)
    today = make_task(owner, pid, "Due today", due_date=day(0), assignees=mine,
                      priority="urgent")
    soon = make_task(me, other["id"], "Due soon", due_date=day(6), assignees=mine)
    later = make_task(owner, pid, "Due later", due_date=day(7), assignees=mine)
    undated = make_task(me, other["id"], "Whenever", assignees=mine)
    done = make_task(owner, pid, "Already done", due_date=day(-1), assignees=mine,
                     completed=True)
    done_later = make_task(owner, pid, "Done early", due_date=day(20), assignees=mine,
                           completed=True)
    make_task(owner, pid, "Not mine", due_date=day(0), assignees=[owner.username])
    tab = browse(me)
    page = tab.page("/my-tasks")
    assert page.status_code == 200
    assert 'href="/my-tasks" aria-current="page"' in page.text
    assert groups(page) == {"overdue": [overdue["id"]], "today": [today["id"]],
                            "week": [soon["id"]], "later": [later["id"]],
                            "none": [undated["id"]]}
    assert "Not mine" not in page.text and "Already done" not in page.text
    assert "5 tasks assigned to you, still open" in page.text
    row = re.search(rf'data-task-id="{today["id"]}".*?</li>', page.text, re.S)
    assert row
    assert f'href="/tasks/{today["id"]}"' in row.group(0)
    assert ">Launch</a>" in row.group(0) and ">To do</span>" in row.group(0)
    assert 'class="priority urgent"' in row.group(0)
    assert ">Side project</a>" in page.text
    assert 'class="badge overdue"' in page.text

    page = tab.page("/my-tasks", params={"done": "1"})
    assert groups(page) == {"today": [today["id"]], "week": [soon["id"]],
                            "later": [later["id"], done_later["id"]],
                            "none": [undated["id"]], "overdue": [overdue["id"]],
                            "earlier": [done["id"]]}
    assert list(groups(page)) == ["overdue", "today", "week", "later", "none", "earlier"]
    assert "Hide completed tasks" in page.text and "✓ Done" in page.text


def test_labels_and_subtasks_are_shown(browse: Any, owner: User, make_user: Any,
                                       project: dict[str, Any]) -> None:
    pid = project["id"]
    me = make_user("me")
    add_member(owner, pid, me, "viewer")
    bug = make_label(owner, pid, "bug", "#e5484d")
    parent = make_task(owner, pid, "Parent task")
    sub = make_task(owner, pid, "Child task", parent_task_id=parent["id"],
                    assignees=[me.username], label_ids=[bug["id"]])
    page = browse(me).page("/my-tasks")
    row = re.search(rf'data-task-id="{sub["id"]}".*?</li>', page.text, re.S)
    assert row
    assert 'style="background: #e5484d"' in row.group(0) and ">bug</span>" in row.group(0)
    assert f'subtask of <a href="/tasks/{parent["id"]}">Parent task</a>' in row.group(0)


def test_empty_states(browse: Any, owner: User, make_user: Any,
                      project: dict[str, Any]) -> None:
    me = make_user("me")
    tab = browse(me)
    page = tab.page("/my-tasks")
    assert page.status_code == 200
    assert "Nothing open is assigned to you" in page.text
    add_member(owner, project["id"], me, "editor")
    make_task(owner, project["id"], "Finished", assignees=[me.username], completed=True)
    assert "Nothing open is assigned to you" in tab.page("/my-tasks").text
    assert "Finished" in tab.page("/my-tasks?done=1").text


def test_signed_out_visitors_are_sent_to_sign_in(anon: httpx.Client) -> None:
    response = anon.get("/my-tasks")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/my-tasks"


def test_titles_are_escaped(browse: Any, owner: User, project: dict[str, Any]) -> None:
    evil = "<script>alert(1)</script>"
    make_task(owner, project["id"], evil, assignees=[owner.username])
    page = browse(owner).page("/my-tasks")
    assert evil not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_groups_follow_the_calendar() -> None:
    today = datetime.date(2025, 6, 11)
    cases = {None: "none", "2025-06-10": "overdue", "2025-06-11": "today",
             "2025-06-12": "week", "2025-06-17": "week", "2025-06-18": "later"}
    for due, group in cases.items():
        assert group_of({"due_date": due, "completed": False}, today) == group
    assert group_of({"due_date": "2025-06-10", "completed": True}, today) == "earlier"
