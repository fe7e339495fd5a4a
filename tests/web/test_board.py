"""The board page: columns and cards, quick-add, columns, roles, through real HTTP."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import httpx

from tests.conftest import Server, User, add_member


def columns_of(user: User, project_id: int) -> list[dict[str, Any]]:
    response = user.client.get(f"/api/v1/projects/{project_id}/columns")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def make_task(user: User, project_id: int, **fields: Any) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks",
                                json={"title": "A task", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def make_label(user: User, project_id: int, name: str, color: str) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/labels",
                                json={"name": name, "color": color})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def card_html(page: str, task_id: int) -> str:
    """The markup of one card on the board."""
    match = re.search(rf'<article class="card[^"]*" id="card-{task_id}".*?</article>', page,
                      re.S)
    assert match, f"no card for task {task_id}"
    return match.group(0)


def column_html(page: str, column_id: int) -> str:
    match = re.search(rf'<section class="board-column" data-column-id="{column_id}".*?'
                      r'</section>', page, re.S)
    assert match, f"no column {column_id}"
    return match.group(0)


def event_count(server: Server, project_id: int) -> int:
    return int(server.sql("SELECT COUNT(*) FROM events WHERE project_id = ?",
                          (project_id,))[0][0])


def test_board_shows_columns_and_cards(browse: Any, owner: User, make_user: Any,
                                       server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    todo, doing, done = columns_of(owner, pid)
    bug = make_label(owner, pid, "bug", "#e5484d")
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    late = make_task(owner, pid, title="Fix login", column_id=todo["id"], priority="urgent",
                     due_date=yesterday, label_ids=[bug["id"]],
                     assignees=[ana.username, owner.username])
    finished = make_task(owner, pid, title="Ship it", column_id=done["id"],
                         due_date=yesterday, completed=True)
    for i, completed in enumerate((True, False, False)):
        make_task(owner, pid, title=f"step {i}", parent_task_id=late["id"],
                  completed=completed)
    owner.client.post(f"/api/v1/tasks/{late['id']}/comments", json={"body": "on it"})

    tab = browse(owner)
    page = tab.page(f"/projects/{pid}")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    # project tabs, the three columns in order, each with its count
    assert 'aria-current="page">Board</a>' in page.text
    names = re.findall(r'<h2 class="column-title"[^>]*>([^<]*)</h2>', page.text)
    assert names == ["To do", "In progress", "Done"]
    assert re.search(r'data-count[^>]*>1</span>', column_html(page.text, todo["id"]))
    assert "No tasks here yet" in column_html(page.text, doing["id"])
    card = card_html(page.text, late["id"])
    version = server.sql("SELECT version FROM tasks WHERE id = ?", (late["id"],))[0][0]
    assert f'data-version="{version}"' in card and f'data-column-id="{todo["id"]}"' in card
    assert "Fix login" in card
    assert 'style="background: #e5484d"' in card and ">bug</li>" in card
    assert len(re.findall(r'class="initials"', card)) == 2
    assert "badge due overdue" in card
    assert "1/3" in card  # subtasks done
    assert 'class="badge comments"' in card and ">1</span>" in card
    assert 'class="priority urgent"' in card
    # A completed task is shown done, and is not overdue.
    done_card = card_html(page.text, finished["id"])
    assert 'class="card done"' in done_card and "overdue" not in done_card
    # Subtasks are not cards.
    assert "step 0" not in page.text
    # Editors get the drag and drop script, forms and the "n" shortcut target.
    assert "sortable-1.15.7" in page.text and "data-editable" in page.text
    assert page.text.count('class="quick-add') == 3
    assert page.text.count("data-new-task") == 1
    assert "data-search" in page.text and 'id="task-dialog"' in page.text


def test_card_shows_initials_of_display_names(browse: Any, owner: User,
                                              project: dict[str, Any]) -> None:
    pid = project["id"]
    task = make_task(owner, pid, title="Mine", assignees=[owner.username])
    page = browse(owner).page(f"/projects/{pid}").text
    initials = re.findall(r'class="initials" title="([^"]*)">([^<]*)<',
                          card_html(page, task["id"]))
    assert initials == [(owner.username, owner.username[0].upper())]


def test_quick_add_returns_the_card_for_htmx(browse: Any, owner: User, server: Server,
                                             project: dict[str, Any]) -> None:
    pid = project["id"]
    _, doing, _ = columns_of(owner, pid)
    tab = browse(owner)
    response = tab.htmx("POST", f"/projects/{pid}/tasks",
                        data={"title": "  Write the docs  ", "column_id": str(doing["id"])})
    assert response.status_code == 201
    assert "<html" not in response.text and "Write the docs" in response.text
    (row,) = server.sql("SELECT id, title, column_id FROM tasks WHERE project_id = ?", (pid,))
    assert (row["title"], row["column_id"]) == ("Write the docs", doing["id"])
    assert f'id="card-{row["id"]}"' in response.text
    assert server.sql("SELECT kind FROM events WHERE task_id = ?", (row["id"],))[0][0] == \
        "task.created"
    # Without htmx it is a plain form post that goes back to the board.
    plain = tab.post(f"/projects/{pid}/tasks", {"title": "Second", "column_id": doing["id"]})
    assert plain.status_code == 303 and plain.headers["location"] == f"/projects/{pid}"
    board = tab.page(f"/projects/{pid}").text
    assert board.index("Write the docs") < board.index("Second")


def test_quick_add_refuses_bad_titles_and_keeps_the_text(browse: Any, owner: User,
                                                         server: Server,
                                                         project: dict[str, Any]) -> None:
    pid = project["id"]
    todo = columns_of(owner, pid)[0]
    tab = browse(owner)
    before = event_count(server, pid)
    empty = tab.post(f"/projects/{pid}/tasks", {"title": "   ", "column_id": todo["id"]})
    assert empty.status_code == 422
    assert "Fill this in" in column_html(empty.text, todo["id"])
    long_title = "x" * 501
    too_long = tab.post(f"/projects/{pid}/tasks", {"title": long_title,
                                                   "column_id": todo["id"]})
    assert too_long.status_code == 422
    assert "at most 500 characters" in too_long.text
    assert f'value="{long_title}"' in too_long.text
    htmx = tab.htmx("POST", f"/projects/{pid}/tasks", data={"title": "",
                                                            "column_id": str(todo["id"])})
    assert htmx.status_code == 422 and htmx.headers["hx-reswap"] == "none"
    assert htmx.headers["content-type"].startswith("text/plain")
    assert server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ?", (pid,))[0][0] == 0
    assert event_count(server, pid) == before


def test_viewers_see_no_edit_controls_and_cannot_post(browse: Any, owner: User,
                                                      make_user: Any, server: Server,
                                                      project: dict[str, Any]) -> None:
    pid = project["id"]
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    todo = columns_of(owner, pid)[0]
    make_task(owner, pid, title="Look, do not touch", column_id=todo["id"])
    tab = browse(viewer)
    page = tab.page(f"/projects/{pid}")
    assert page.status_code == 200 and "Look, do not touch" in page.text
    for control in ("quick-add", "column-handle", "data-editable", "sortable-1.15.7",
                    "column-menu", "add-column", "data-new-task", "/rename", "/delete"):
        assert control not in page.text, control
    assert "ask an owner for the editor role" in page.text
    before = event_count(server, pid)
    assert tab.post(f"/projects/{pid}/tasks", {"title": "Sneaky",
                                               "column_id": todo["id"]}).status_code == 403
    assert tab.post(f"/projects/{pid}/columns", {"name": "Mine"}).status_code == 403
    assert tab.post(f"/projects/{pid}/columns/{todo['id']}/rename",
                    {"name": "Renamed"}).status_code == 403
    assert tab.post(f"/projects/{pid}/columns/{todo['id']}/delete", {}).status_code == 403
    htmx = tab.htmx("POST", f"/projects/{pid}/tasks",
                    data={"title": "Sneaky", "column_id": str(todo["id"])})
    assert htmx.status_code == 403 and "viewers cannot change" in htmx.text
    assert event_count(server, pid) == before
    assert server.sql("SELECT name FROM columns WHERE id = ?", (todo["id"],))[0][0] == "To do"


def test_non_members_get_404(browse: Any, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    todo = columns_of(owner, pid)[0]
    stranger = browse()
    page = stranger.page(f"/projects/{pid}")
    assert page.status_code == 404 and "Launch" not in page.text
    assert stranger.post(f"/projects/{pid}/tasks", {"title": "x",
                                                    "column_id": todo["id"]}).status_code == 404
    assert stranger.post(f"/projects/{pid}/columns/{todo['id']}/rename",
                         {"name": "x"}).status_code == 404
    assert stranger.page("/projects/999999999").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(anon: Any, project: dict[str, Any]) -> None:
    response = anon.get(f"/projects/{project['id']}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next=/projects/{project['id']}"


def test_add_rename_and_delete_columns(browse: Any, owner: User, server: Server,
                                       project: dict[str, Any]) -> None:
    pid = project["id"]
    todo, doing, done = columns_of(owner, pid)
    tab = browse(owner)
    added = tab.post(f"/projects/{pid}/columns", {"name": "Review"})
    assert added.status_code == 303
    assert [c["name"] for c in columns_of(owner, pid)] == ["To do", "In progress", "Done",
                                                          "Review"]
    blank = tab.post(f"/projects/{pid}/columns", {"name": ""})
    assert blank.status_code == 422 and "Fill this in" in blank.text

    renamed = tab.post(f"/projects/{pid}/columns/{doing['id']}/rename", {"name": "Doing"})
    assert renamed.status_code == 303 and renamed.headers["location"] == f"/projects/{pid}"
    assert server.sql("SELECT name FROM columns WHERE id = ?", (doing["id"],))[0][0] == "Doing"
    bad = tab.post(f"/projects/{pid}/columns/{doing['id']}/rename", {"name": "y" * 101})
    assert bad.status_code == 422 and "at most 100 characters" in bad.text
    assert f'value="{"y" * 101}"' in bad.text
    assert server.sql("SELECT name FROM columns WHERE id = ?", (doing["id"],))[0][0] == "Doing"

    a = make_task(owner, pid, title="a", column_id=doing["id"])
    b = make_task(owner, pid, title="b", column_id=doing["id"])
    page = tab.page(f"/projects/{pid}").text
    assert "Move its 2 tasks to" in column_html(page, doing["id"])
    refused = tab.post(f"/projects/{pid}/columns/{doing['id']}/delete", {})
    assert refused.status_code == 409 and "still holds 2 tasks" in refused.text
    moved = tab.post(f"/projects/{pid}/columns/{doing['id']}/delete",
                     {"move_to": str(done["id"])})
    assert moved.status_code == 303
    assert [c["name"] for c in columns_of(owner, pid)] == ["To do", "Done", "Review"]
    rows = server.sql("SELECT id, column_id FROM tasks WHERE id IN (?, ?) ORDER BY id",
                      (a["id"], b["id"]))
    assert [r["column_id"] for r in rows] == [done["id"], done["id"]]
    kinds = [r[0] for r in server.sql(
        "SELECT kind FROM events WHERE project_id = ? AND entity_type = 'column' ORDER BY id",
        (pid,))]
    assert kinds == ["column.created", "column.updated", "column.deleted"]
    # An empty column goes without asking where its tasks go.
    assert tab.post(f"/projects/{pid}/columns/{todo['id']}/delete", {}).status_code == 303
    # A column of another project is not found through this project.
    other = owner.client.post("/api/v1/projects", json={"name": "Other"}).json()
    other_column = columns_of(owner, other["id"])[0]
    assert tab.post(f"/projects/{pid}/columns/{other_column['id']}/rename",
                    {"name": "x"}).status_code == 404


def test_empty_board_says_what_to_do(browse: Any, owner: User,
                                     project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    for column in columns_of(owner, pid):
        assert tab.post(f"/projects/{pid}/columns/{column['id']}/delete", {}).status_code == 303
    page = tab.page(f"/projects/{pid}").text
    assert "This board has no columns yet" in page and 'class="add-column"' in page


def test_board_escapes_what_users_typed(browse: Any, owner: User,
                                        project: dict[str, Any]) -> None:
    pid = project["id"]
    make_task(owner, pid, title="<script>alert('title')</script>")
    make_label(owner, pid, "<img src=x onerror=alert(1)>", "#123456")
    owner.client.patch(f"/api/v1/columns/{columns_of(owner, pid)[0]['id']}",
                       json={"name": "<b>bold</b>"})
    page = browse(owner).page(f"/projects/{pid}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_drag_and_drop_persists_through_the_api_with_the_session(
        browse: Any, owner: User, server: Server, project: dict[str, Any]) -> None:
    """What board.js sends when a card or a column is dropped, with the page's cookie."""
    pid = project["id"]
    todo, doing, _ = columns_of(owner, pid)
    first = make_task(owner, pid, title="first", column_id=doing["id"])
    moving = make_task(owner, pid, title="moving", column_id=todo["id"])
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}").text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert token
    headers = {"X-CSRF-Token": token.group(1)}
    moved = tab.client.post(f"/api/v1/tasks/{moving['id']}/move",
                            json={"column_id": doing["id"], "position": 0}, headers=headers)
    assert moved.status_code == 200, moved.text
    order = [r[0] for r in server.sql(
        "SELECT title FROM tasks WHERE column_id = ? ORDER BY rank", (doing["id"],))]
    assert order == ["moving", "first"]
    reordered = tab.client.patch(f"/api/v1/columns/{todo['id']}", json={"position": 2},
                                 headers=headers)
    assert reordered.status_code == 200
    board = tab.page(f"/projects/{pid}").text
    assert re.findall(r'<h2 class="column-title"[^>]*>([^<]*)</h2>', board) == [
        "In progress", "Done", "To do"]
    assert board.index(f'id="card-{moving["id"]}"') < board.index(f'id="card-{first["id"]}"')
    # Without the token, and without the browser saying it is same-site, it is refused.
    refused = tab.client.post(f"/api/v1/tasks/{first['id']}/move", json={"position": 0},
                              headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403


def test_forms_need_the_csrf_token_when_the_browser_does_not_say_where_they_come_from(
        browse: Any, owner: User, server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    todo = columns_of(owner, pid)[0]
    tab = browse(owner)
    page = tab.page(f"/projects/{pid}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    with httpx.Client(base_url=server.base_url, cookies=tab.client.cookies) as bare:
        data = {"title": "Forged?", "column_id": str(todo["id"])}
        assert bare.post(f"/projects/{pid}/tasks", data=data).status_code == 403
        assert server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ?", (pid,))[0][0] == 0
        sent = bare.post(f"/projects/{pid}/tasks", data={**data, "csrf_token": token.group(1)})
        assert sent.status_code == 303
    assert server.sql("SELECT title FROM tasks WHERE project_id = ?", (pid,))[0][0] == "Forged?"


def test_a_long_column_draws_its_first_cards_and_sends_the_rest_as_safe_data(
        browse: Any, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    todo = columns_of(owner, pid)[0]["id"]
    label = make_label(owner, pid, "</script><b>x</b>", "#123456")
    made = [make_task(owner, pid, title=f"Task {n}", column_id=todo) for n in range(43)]
    hostile = make_task(owner, pid, title="</script><script>alert(1)</script><!--",
                        column_id=todo, label_ids=[label["id"]], assignees=[owner.username])
    made.append(hostile)
    page = browse(owner).page(f"/projects/{pid}").text
    column = column_html(page, todo)
    drawn = [int(n) for n in re.findall(r'<article class="card[^"]*" id="card-(\d+)"', column)]
    assert drawn == [task["id"] for task in made[:40]]  # the first 40, in board order
    assert f'?column={todo}">4 more in the list view</a>' in column  # without JavaScript
    match = re.search(r'<script type="application/json" id="board-data">(.*?)</script>', page,
                      re.S)
    assert match, "no board data"
    assert "<" not in match.group(1)  # nothing in it can end the script block early
    data = json.loads(match.group(1))
    waiting = [dict(zip(data["fields"], card, strict=True))
               for card in data["columns"][str(todo)]]
    # The rest, in board order, with what their cards show, as the API has it.
    assert [card["id"] for card in waiting] == [task["id"] for task in made[40:]]
    api = owner.client.get(f"/api/v1/tasks/{hostile['id']}").json()
    card = waiting[-1]
    for name in ("title", "completed", "version", "column_id", "priority", "due_date",
                 "comment_count", "attachment_count", "subtask_count", "subtasks_completed"):
        assert card[name] == api[name], name
    assert [data["labels"][str(i)] for i in card["labels"]] == [
        {"name": label["name"], "color": label["color"]} for label in api["labels"]]
    assert [data["people"][str(i)]["username"] for i in card["assignees"]] == [owner.username]
    assert data["today"] == datetime.date.today().isoformat()
