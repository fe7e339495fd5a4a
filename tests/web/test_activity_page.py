"""The project's activity page: events as sentences by day, filters and pages in the URL,
and the fragment of newer entries that live updates put on top."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any

import httpx

from tasklette.web.activity_page import day_name, relative
from tasklette.web.activity_text import describe
from tests.conftest import Server, User, add_member


def make_task(user: User, project_id: int, title: str) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks", json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def done_column(user: User, project_id: int) -> dict[str, Any]:
    return user.client.get(f"/api/v1/projects/{project_id}/columns").json()[-1]  # type: ignore[no-any-return]


def sentences(response: httpx.Response) -> list[str]:
    """The entries' sentences as a person reads them (links and all), in order."""
    spans = re.findall(r'<span class="activity-text">(.*?)</span>', response.text, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", span)) for span in spans]


def shown_ids(response: httpx.Response) -> list[int]:
    return [int(i) for i in re.findall(r'data-event-id="(\d+)"', response.text)]


def link(response: httpx.Response, text: str) -> str | None:
    match = re.search(r'<a class="button" href="([^"]+)"[^>]*>' + re.escape(text) + "<",
                      response.text)
    return html.unescape(match.group(1)) if match else None


def entries_list(response: httpx.Response) -> str:
    match = re.search(r'<ol id="activity-entries"[^>]*>', response.text)
    assert match, "the page has no #activity-entries list"
    return match.group(0)


def event_ids(server: Server, project_id: int, where: str = "",
              params: tuple[Any, ...] = ()) -> list[int]:
    rows = server.sql(f"SELECT id FROM events WHERE project_id = ? {where} ORDER BY id DESC",
                      (project_id, *params))
    return [int(row[0]) for row in rows]


def test_the_page_tells_what_happened(server: Server, browse: Any, owner: User,
                                      make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    task = make_task(owner, pid, "Fix login")
    assert ana.client.post(f"/api/v1/tasks/{task['id']}/move",
                           json={"column_id": done_column(owner, pid)["id"]}).status_code == 200
    assert ana.client.post(f"/api/v1/tasks/{task['id']}/comments",
                           json={"body": "Shipped"}).status_code == 201
    page = browse(owner).page(f"/projects/{pid}/activity")
    assert page.status_code == 200
    assert 'aria-current="page">Activity</a>' in page.text
    assert sentences(page) == [
        f"{ana.username} commented on “Fix login”",
        f"{ana.username} moved “Fix login” to Done",
        f"{owner.username} created “Fix login” in To do",
        f"{owner.username} added {ana.username} to the project as editor",
        f"{owner.username} created the project “Launch”",
    ]
    # Every entry is an event of the table, newest first, and the list knows the newest.
    ids = event_ids(server, pid)
    assert shown_ids(page) == ids
    assert f'data-latest-id="{ids[0]}"' in entries_list(page)
    assert 'data-takes-newer="true"' in entries_list(page)
    # Task titles link to the task; times are machine-readable and read relatively.
    assert f'moved <a href="/tasks/{task["id"]}">“Fix login”</a> to Done' in page.text
    assert page.text.count(f'href="/tasks/{task["id"]}"') == 3
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert re.search(rf'<time class="muted" datetime="{today}T[0-9:.]+Z" title="[^"]+ UTC">'
                     r"just now</time>", page.text)
    # One heading for the day, before its first entry.
    assert page.text.count('<li class="activity-day"') == 1
    assert f'<li class="activity-day" data-day="{today}"><h2>Today</h2></li>' in page.text
    assert "Older" not in page.text


def test_a_deleted_task_is_not_linked(browse: Any, owner: User,
                                      project: dict[str, Any]) -> None:
    pid = project["id"]
    gone = make_task(owner, pid, "Old idea")
    kept = make_task(owner, pid, "Keep me")
    assert owner.client.delete(f"/api/v1/tasks/{gone['id']}").status_code == 204
    page = browse(owner).page(f"/projects/{pid}/activity")
    assert sentences(page)[:3] == [f"{owner.username} deleted “Old idea”",
                                   f"{owner.username} created “Keep me” in To do",
                                   f"{owner.username} created “Old idea” in To do"]
    assert f'href="/tasks/{gone["id"]}"' not in page.text
    assert f'href="/tasks/{kept["id"]}"' in page.text


def test_filters_by_person_and_kind(server: Server, browse: Any, owner: User,
                                    make_user: Any, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    task = make_task(ana, pid, "Fix login")
    ana.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "On it"})
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "Thanks"})
    tab = browse(owner)

    mine = tab.page(f"/projects/{pid}/activity", params={"actor": ana.username})
    assert shown_ids(mine) == event_ids(server, pid, "AND actor_id = ?", (ana.id,))
    assert sentences(mine) == [f"{ana.username} commented on “Fix login”",
                               f"{ana.username} created “Fix login” in To do"]
    # The form shows the filter in use, and offers to clear it.
    assert f'<option value="{ana.username}" selected>' in mine.text
    assert link(mine, "Clear filters") == f"/projects/{pid}/activity"

    comments = tab.page(f"/projects/{pid}/activity", params={"kind": "comment"})
    assert sentences(comments) == [f"{owner.username} commented on “Fix login”",
                                   f"{ana.username} commented on “Fix login”"]
    assert '<option value="comment" selected>Comments</option>' in comments.text

    both = tab.page(f"/projects/{pid}/activity",
                    params={"actor": owner.username, "kind": "comment"})
    assert sentences(both) == [f"{owner.username} commented on “Fix login”"]
    # Every link of a filtered page carries the filters along.
    assert f"actor={owner.username}&amp;kind=comment&amp;fragment=1" in entries_list(both)

    # Empty fields are "not set"; unknown names (a tracking parameter) are ignored.
    plain = tab.page(f"/projects/{pid}/activity", params={"actor": "", "utm_source": "x"})
    assert shown_ids(plain) == event_ids(server, pid)


def test_filters_that_match_nothing_or_are_wrong(browse: Any, owner: User,
                                                 project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    nobody = tab.page(f"/projects/{pid}/activity", params={"actor": "nobody-at-all"})
    assert nobody.status_code == 200
    assert shown_ids(nobody) == []
    assert "No activity matches these filters" in nobody.text
    assert '<option value="nobody-at-all" selected>nobody-at-all</option>' in nobody.text
    # An empty list is still there for live updates to fill.
    assert 'data-latest-id="0"' in entries_list(nobody)
    assert re.search(r'<ol id="activity-entries"[^>]*></ol>', nobody.text)

    wrong = tab.page(f"/projects/{pid}/activity", params={"kind": "everything"})
    assert wrong.status_code == 422
    assert "These filters could not be used" in wrong.text
    assert "Kind: Choose a kind of change from the list." in wrong.text
    assert 'id="f-kind" name="kind" data-autosubmit aria-invalid="true"' in wrong.text
    assert shown_ids(wrong) == []


def test_older_pages_follow_on(server: Server, browse: Any, owner: User,
                               project: dict[str, Any]) -> None:
    pid = project["id"]
    for number in range(4):
        make_task(owner, pid, f"Task {number}")
    expected = event_ids(server, pid, "AND kind LIKE 'task.%'")
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/activity", params={"kind": "task", "limit": "3"})
    assert link(page, "Newest") is None
    seen = shown_ids(page)
    older = link(page, "Older")
    assert older == f"/projects/{pid}/activity?kind=task&limit=3&before={seen[-1]}"
    page = tab.page(older)
    assert page.status_code == 200
    assert 'data-takes-newer="false"' in entries_list(page)
    assert link(page, "Newest") == f"/projects/{pid}/activity?kind=task&limit=3"
    seen += shown_ids(page)
    assert link(page, "Older") is None
    assert seen == expected


def test_the_fragment_has_only_newer_entries(server: Server, browse: Any, owner: User,
                                             project: dict[str, Any]) -> None:
    pid = project["id"]
    task = make_task(owner, pid, "Fix login")
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}/activity")
    latest = shown_ids(page)[0]
    assert f'data-latest-id="{latest}"' in entries_list(page)

    # Nothing new yet: an empty answer, nothing to put on top.
    nothing = tab.htmx("GET", f"/projects/{pid}/activity", params={"after": str(latest)})
    assert nothing.status_code == 200 and nothing.text.strip() == ""

    owner.client.post(f"/api/v1/tasks/{task['id']}/move",
                      json={"column_id": done_column(owner, pid)["id"]})
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "Shipped"})
    newer = event_ids(server, pid, "AND id > ?", (latest,))
    assert len(newer) == 2

    fragment = tab.htmx("GET", f"/projects/{pid}/activity", params={"after": str(latest)})
    assert fragment.status_code == 200
    assert fragment.headers["vary"] == "HX-Request"
    assert "<html" not in fragment.text and "project-tabs" not in fragment.text
    assert fragment.text.lstrip().startswith('<li class="activity-entry"')
    assert shown_ids(fragment) == newer
    assert sentences(fragment) == [f"{owner.username} commented on “Fix login”",
                                   f"{owner.username} moved “Fix login” to Done"]
    # The page above already heads today: the fragment does not head it again.
    assert "activity-day" not in fragment.text

    # ?fragment=1 does the same without the header, and the filters apply.
    plain = tab.page(f"/projects/{pid}/activity",
                     params={"after": str(latest), "fragment": "1", "kind": "comment"})
    assert sentences(plain) == [f"{owner.username} commented on “Fix login”"]

    # From an empty list (after=0) every entry is new, under its day's heading.
    everything = tab.page(f"/projects/{pid}/activity", params={"after": "0", "fragment": "1"})
    assert shown_ids(everything) == event_ids(server, pid)
    assert everything.text.lstrip().startswith('<li class="activity-day"')

    # A limit gives the entries right after `after`, so asking again skips none.
    first = tab.page(f"/projects/{pid}/activity",
                     params={"after": "0", "fragment": "1", "limit": "2"})
    assert shown_ids(first) == event_ids(server, pid)[-2:]

    bad = tab.htmx("GET", f"/projects/{pid}/activity", params={"after": "-1"})
    assert bad.status_code == 422
    assert bad.headers["hx-reswap"] == "none"


def test_only_members_see_the_page(browse: Any, owner: User, make_user: Any,
                                   project: dict[str, Any]) -> None:
    pid = project["id"]
    make_task(owner, pid, "Secret plan")
    outsider = browse(make_user("outsider"))
    for params in ({}, {"after": "0", "fragment": "1"}):
        response = outsider.page(f"/projects/{pid}/activity", params=params)
        assert response.status_code == 404
        assert "Secret plan" not in response.text
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    page = browse(viewer).page(f"/projects/{pid}/activity")
    assert page.status_code == 200
    assert f"{owner.username} created “Secret plan” in To do" in sentences(page)


def test_signed_out_people_are_sent_to_sign_in(anon: httpx.Client,
                                               project: dict[str, Any]) -> None:
    response = anon.get(f"/projects/{project['id']}/activity")
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/signin")


def test_days_and_times_read_naturally() -> None:
    now = datetime.datetime(2026, 5, 31, 15, 0, tzinfo=datetime.UTC)
    today = now.date()
    assert day_name(today, today) == "Today"
    assert day_name(datetime.date(2026, 5, 30), today) == "Yesterday"
    assert day_name(datetime.date(2026, 5, 25), today) == "Monday 25 May"
    assert day_name(datetime.date(2025, 12, 31), today) == "Wednesday 31 December 2025"
    ago = datetime.timedelta
    assert relative(now - ago(seconds=20), now) == "just now"
    assert relative(now - ago(minutes=1), now) == "1 minute ago"
    assert relative(now - ago(minutes=42), now) == "42 minutes ago"
    assert relative(now - ago(hours=3, minutes=5), now) == "3 hours ago"
    assert relative(now - ago(days=2), now) == "15:00 UTC"


def test_member_and_project_sentences() -> None:
    names = {"ana": "Ana", "ben": "Ben"}

    def say(kind: str, payload: dict[str, Any], actor_id: int = 1) -> str:
        return describe({"kind": kind, "actor_username": "ana", "actor_id": actor_id,
                         "payload": payload}, {}, names)

    ben = {"id": 2, "username": "ben", "role": "editor"}
    assert say("member.added", {"member": ben}) == "Ana added Ben to the project as editor"
    assert say("member.updated", {"member": {**ben, "role": "owner"}}) == "Ana made Ben an owner"
    assert say("member.updated", {"member": {**ben, "role": "viewer"}}) == \
        "Ana made Ben a viewer"
    assert say("member.removed", {"member": ben}) == "Ana removed Ben from the project"
    assert say("member.removed", {"member": {**ben, "id": 1}}) == "Ana left the project"
    project = {"name": "Launch", "archived": True}
    assert say("project.created", {"project": project}) == "Ana created the project “Launch”"
    assert say("project.updated", {"project": project, "changes": ["name"]}) == \
        "Ana renamed the project to “Launch”"
    assert say("project.updated", {"project": project, "changes": ["archived"]}) == \
        "Ana archived the project"
    assert say("project.updated", {"project": {**project, "archived": False},
                                   "changes": ["archived"]}) == "Ana restored the project"
    assert say("project.updated", {"project": project, "changes": ["description", "name"]}) \
        == "Ana changed the description and the name of the project"
    # Kinds without a sentence of their own still read as English.
    assert say("attachment.created", {}) == "Ana created an attachment"
