"""The list view: every task of a project in a table, filtered, sorted and paged by URL."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any

import httpx

from tests.conftest import User, add_member

TODAY = datetime.date.today()


def day(offset: int) -> str:
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


def make_task(user: User, project_id: int, title: str, **fields: Any) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks",
                                json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def make_label(user: User, project_id: int, name: str, color: str = "#e5484d") -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/labels",
                                json={"name": name, "color": color})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def columns_of(user: User, project_id: int) -> list[dict[str, Any]]:
    return user.client.get(f"/api/v1/projects/{project_id}/columns").json()  # type: ignore[no-any-return]


def shown(response: httpx.Response) -> list[int]:
    """Ids of the task rows on a list page, in order."""
    return [int(i) for i in re.findall(r'<tr data-task-id="(\d+)"', response.text)]


def link(response: httpx.Response, rel_text: str) -> str | None:
    """The href of the link whose text is `rel_text` (e.g. "Next page"), unescaped."""
    match = re.search(r'<a class="button" href="([^"]+)"[^>]*>' + re.escape(rel_text) + "<",
                      response.text)
    return html.unescape(match.group(1)) if match else None


def row_of(response: httpx.Response, task_id: int) -> str:
    match = re.search(rf'<tr data-task-id="{task_id}".*?</tr>', response.text, re.S)
    assert match, f"task {task_id} is not on the page"
    return match.group(0)


def test_the_table_shows_each_tasks_details(browse: Any, owner: User, make_user: Any,
                                            project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    bug = make_label(owner, pid, "bug", "#E5484D")
    late = make_task(owner, pid, "Fix the login page", label_ids=[bug["id"]],
                     assignees=[ana.username], priority="high", due_date=day(-2))
    done = make_task(owner, pid, "Write the changelog", completed=True, due_date=day(-2))
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/list")
    assert page.status_code == 200
    assert shown(page) == [late["id"], done["id"]]
    assert 'aria-current="page">List</a>' in page.text
    assert "Showing 2 tasks" in page.text
    row = row_of(page, late["id"])
    assert f'href="/tasks/{late["id"]}"' in row and "Fix the login page" in row
    assert "To do" in row
    assert 'style="background: #e5484d"' in row and ">bug</span>" in row
    assert ana.username in row
    assert 'class="priority high"' in row
    assert "badge overdue" in row and "(overdue)" in row
    assert "Open" in row
    finished = row_of(page, done["id"])
    assert "✓ Done" in finished and "overdue" not in finished  # done is never late


def test_every_filter_narrows_the_list(browse: Any, owner: User, make_user: Any,
                                       project: dict[str, Any]) -> None:
    pid = project["id"]
    ben = make_user("ben")
    add_member(owner, pid, ben, "editor")
    bug = make_label(owner, pid, "bug")
    doing = columns_of(owner, pid)[1]
    a = make_task(owner, pid, "Alpha release notes", description="mentions the rocket",
                  label_ids=[bug["id"]], priority="urgent", due_date=day(1),
                  assignees=[owner.username])
    b = make_task(owner, pid, "Beta signup form", priority="low", due_date=day(10),
                  assignees=[ben.username], column_id=doing["id"])
    c = make_task(owner, pid, "Cleanup", completed=True)
    sub = make_task(owner, pid, "Alpha subtask", parent_task_id=a["id"])
    tab = browse(owner)
    path = f"/projects/{pid}/list"

    def ids(**params: str) -> list[int]:
        response = tab.page(path, params=params)
        assert response.status_code == 200, response.text
        return shown(response)

    assert ids() == [a["id"], c["id"], b["id"]]  # board order: To do, then In progress
    assert ids(q="rocket") == [a["id"]]  # the description counts too
    assert ids(q="SIGNUP") == [b["id"]]
    assert ids(label=str(bug["id"])) == [a["id"]]
    assert ids(assignee="me") == [a["id"]]
    assert ids(assignee=ben.username) == [b["id"]]
    assert ids(priority="urgent") == [a["id"]]
    assert ids(priority="low,urgent") == [a["id"], b["id"]]
    assert ids(due_before=day(5)) == [a["id"]]
    assert ids(due_after=day(5)) == [b["id"]]
    assert ids(completed="true") == [c["id"]]
    assert ids(completed="false") == [a["id"], b["id"]]
    assert ids(column=str(doing["id"])) == [b["id"]]
    assert sub["id"] in ids(parent="any")
    # Empty fields of the form are "not set", as a plain form submission sends them.
    assert ids(q="", label="", assignee="", priority="", due_before="", due_after="",
               completed="", parent="", column="") == [a["id"], c["id"], b["id"]]
    assert ids(q="rocket", completed="false", label=str(bug["id"])) == [a["id"]]


def test_filters_are_kept_in_the_form_and_links(browse: Any, owner: User,
                                                project: dict[str, Any]) -> None:
    pid = project["id"]
    bug = make_label(owner, pid, "bug")
    for n in range(3):
        make_task(owner, pid, f"Task {n}", label_ids=[bug["id"]], priority="high",
                  due_date=day(1))
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/list", params={
        "label": bug["id"], "priority": "high", "q": "Task", "completed": "false",
        "due_after": "2000-01-01", "sort": "-title", "limit": "2"})
    assert page.status_code == 200
    assert f'<option value="{bug["id"]}" selected>bug</option>' in page.text
    assert '<option value="high" selected>High</option>' in page.text
    assert 'name="q" type="search" value="Task"' in page.text
    assert '<option value="false" selected>Open</option>' in page.text
    assert 'value="2000-01-01"' in page.text
    assert '<option value="-title" selected>' in page.text
    assert '<input type="hidden" name="limit" value="2">' in page.text
    next_url = link(page, "Next page")
    assert next_url is not None
    for kept in (f"label={bug['id']}", "priority=high", "q=Task", "completed=false",
                 "due_after=2000-01-01", "sort=-title", "limit=2", "cursor="):
        assert kept in next_url
    title_sort = re.search(r'<a href="([^"]+)" class="sort-link">Title', page.text)
    assert title_sort and f"label={bug['id']}" in html.unescape(title_sort.group(1))
    assert "Clear filters" in page.text


def test_headers_sort_both_ways(browse: Any, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    b = make_task(owner, pid, "banana", priority="low", due_date=day(3))
    a = make_task(owner, pid, "Apple", priority="urgent", due_date=day(9))
    c = make_task(owner, pid, "cherry", priority="medium")
    tab = browse(owner)
    path = f"/projects/{pid}/list"
    page = tab.page(path)
    assert re.search(r'aria-sort="ascending"[^>]*>\s*<a [^>]*>Column', page.text)
    by_title = re.search(r'<a href="([^"]+)" class="sort-link">Title', page.text)
    assert by_title and html.unescape(by_title.group(1)) == f"{path}?sort=title"
    page = tab.page(f"{path}?sort=title")
    assert shown(page) == [a["id"], b["id"], c["id"]]  # case-insensitive
    assert re.search(r'aria-sort="ascending"[^>]*>\s*<a href="[^"]*sort=-title"', page.text)
    page = tab.page(f"{path}?sort=-title")
    assert shown(page) == [c["id"], b["id"], a["id"]]
    assert re.search(r'aria-sort="descending"[^>]*>\s*<a href="[^"]*sort=title"', page.text)
    assert page.text.count("aria-sort=") == 1
    assert shown(tab.page(f"{path}?sort=-priority")) == [a["id"], c["id"], b["id"]]
    assert shown(tab.page(f"{path}?sort=due")) == [b["id"], a["id"], c["id"]]  # no date last
    priority_link = re.search(r'<a href="([^"]+)" class="sort-link">Priority',
                              tab.page(path).text)
    assert priority_link and priority_link.group(1).endswith("sort=-priority")


def test_pages_walk_every_task_once(browse: Any, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    made = [make_task(owner, pid, f"Task {n:02}")["id"] for n in range(7)]
    make_task(owner, pid, "Other", completed=True)
    tab = browse(owner)
    url: str | None = f"/projects/{pid}/list?completed=false&limit=3"
    seen: list[int] = []
    pages = 0
    while url:
        page = tab.page(url)
        assert page.status_code == 200
        seen += shown(page)
        pages += 1
        if pages > 1:
            first = link(page, "First page")
            assert first == f"/projects/{pid}/list?completed=false&limit=3"
        else:
            assert link(page, "First page") is None
        url = link(page, "Next page")
    assert seen == made
    assert pages == 3
    assert "Showing 1 task;" not in page.text and "Showing 1 task." in page.text


def test_invalid_filters_are_explained_not_crashed(browse: Any, owner: User,
                                                   project: dict[str, Any]) -> None:
    pid = project["id"]
    make_task(owner, pid, "Something")
    tab = browse(owner)
    path = f"/projects/{pid}/list"
    cases = {
        "due_before": ("next tuesday", "Write a date as YYYY-MM-DD"),
        "due_after": ("2025-13-45", "Write a date as YYYY-MM-DD"),
        "label": ("abc", "Choose a label from the list"),
        "column": ("-1", "Choose a column from the list"),
        "completed": ("maybe", "Choose any, open or done"),
        "sort": ("colour", "Choose an order from the list"),
        "limit": ("0", "Show from 1 to 200 tasks per page"),
        "priority": ("extreme", "There is no priority &#39;extreme&#39;"),
        "cursor": ("not-a-cursor", "This page link is no longer valid"),
        "parent": ("some", "Choose top-level tasks, or tasks and subtasks"),
    }
    for name, (value, message) in cases.items():
        page = tab.page(path, params={name: value})
        assert page.status_code == 422, (name, page.text)
        assert message in page.text, name
        assert "These filters could not be used" in page.text
        assert "data-task-id" not in page.text
    page = tab.page(path, params={"due_before": "next tuesday", "q": "kept"})
    assert 'name="due_before" type="date" value="next tuesday"' in page.text  # kept as typed
    assert 'aria-invalid="true" aria-describedby="e-due_before"' in page.text
    assert 'value="kept"' in page.text
    # A label or column of another project is not silently ignored.
    other = owner.client.post("/api/v1/projects", json={"name": "Other"}).json()
    foreign = make_label(owner, other["id"], "elsewhere")
    page = tab.page(path, params={"label": foreign["id"]})
    assert page.status_code == 422 and "no such label in this project" in page.text
    # Unknown parameters (a tracking tag on a shared link) are ignored.
    assert tab.page(path, params={"utm_source": "mail"}).status_code == 200


def test_empty_states(browse: Any, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/list")
    assert "This project has no tasks yet" in page.text
    make_task(owner, pid, "Lonely")
    page = tab.page(f"/projects/{pid}/list", params={"q": "nothing like it", "sort": "due"})
    assert page.status_code == 200
    assert "No tasks match these filters" in page.text
    assert f'href="/projects/{pid}/list?sort=due">clear filters</a>' in page.text


def test_viewers_read_and_strangers_get_404(browse: Any, owner: User, make_user: Any,
                                            project: dict[str, Any]) -> None:
    pid = project["id"]
    task = make_task(owner, pid, "Visible")
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    assert shown(browse(viewer).page(f"/projects/{pid}/list")) == [task["id"]]
    stranger = browse()
    page = stranger.page(f"/projects/{pid}/list")
    assert page.status_code == 404
    assert "Visible" not in page.text
    assert stranger.page("/projects/999999999/list").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(anon: httpx.Client,
                                                 project: dict[str, Any]) -> None:
    response = anon.get(f"/projects/{project['id']}/list?q=x")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def test_user_content_is_escaped(browse: Any, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    evil = "<script>alert(1)</script>"
    label = make_label(owner, pid, evil)
    make_task(owner, pid, evil, label_ids=[label["id"]])
    page = browse(owner).page(f"/projects/{pid}/list", params={"q": evil})
    assert page.status_code == 200
    assert evil not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
