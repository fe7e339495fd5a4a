"""The task detail page and its edits (fields, subtasks, comments), through real HTTP."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest

from tasklette.web.activity_text import describe
from tests.conftest import Server, User, add_member
from tests.web.test_board import columns_of, make_label, make_task


def task_row(server: Server, task_id: int) -> Any:
    (row,) = server.sql("SELECT * FROM tasks WHERE id = ?", (task_id,))
    return row


def task_events(server: Server, task_id: int) -> list[tuple[str, str]]:
    return [(r["kind"], r["payload"]) for r in server.sql(
        "SELECT kind, payload FROM events WHERE task_id = ? ORDER BY id", (task_id,))]


def the_form(task: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the task form posts for `task` as it is, with `changes` applied."""
    data: dict[str, Any] = {
        "version": str(task["version"]), "title": task["title"],
        "description": task["description"], "column_id": str(task["column_id"]),
        "priority": task["priority"], "start_date": task["start_date"] or "",
        "due_date": task["due_date"] or "", "completed": ["false"],
        "assignees": [""] + [p["username"] for p in task["assignees"]],
        "label_ids": [""] + [str(label["id"]) for label in task["labels"]],
    }
    if task["completed"]:
        data["completed"] = ["false", "true"]
    data.update(changes)
    return data


def test_task_page_shows_the_task(browse: Any, owner: User, make_user: Any,
                                  project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    bug = make_label(owner, pid, "bug", "#e5484d")
    make_label(owner, pid, "docs", "#12a594")
    task = make_task(owner, pid, title="Fix login", description="Steps:\n\n- **bold** step",
                     priority="high", due_date="2031-05-31", label_ids=[bug["id"]],
                     assignees=[ana.username])
    make_task(owner, pid, title="Reproduce it", parent_task_id=task["id"])
    ana.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "I'll _look_"})
    page = browse(owner).page(f"/tasks/{task['id']}")
    assert page.status_code == 200
    html = page.text
    assert "<html" in html and 'aria-current="page">Board</a>' in html
    assert "Fix login" in html and "<strong>bold</strong> step" in html
    assert "<em>look</em>" in html
    assert re.search(rf'value="{ana.username}" checked', html)
    assert re.search(rf'value="{owner.username}">', html)  # a member, not assigned
    assert re.search(rf'name="label_ids" value="{bug["id"]}" checked', html)
    assert 'value="high" selected' in html and 'value="2031-05-31"' in html
    assert "Reproduce it" in html and "0/1" in html
    assert f"{owner.username} created “Fix login” in To do" in html
    assert f"{ana.username} commented on “Fix login”" in html


def test_htmx_gets_the_fragment_and_the_board_its_card(browse: Any, owner: User,
                                                       project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Fragment")
    tab = browse(owner)
    fragment = tab.htmx("GET", f"/tasks/{task['id']}")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="task-detail"' in fragment.text and "hx-swap-oob" not in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    from_board = tab.htmx("GET", f"/tasks/{task['id']}", headers={"X-Tasklette-Board": "1"})
    assert f'id="card-{task["id"]}" data-task-id="{task["id"]}"' in from_board.text
    assert 'hx-swap-oob="true"' in from_board.text


def test_what_users_typed_is_escaped(browse: Any, owner: User,
                                     project: dict[str, Any]) -> None:
    evil = "<script>alert(1)</script>"
    task = make_task(owner, project["id"], title=f"Title {evil}",
                     description=f"Text {evil} and [link](javascript:alert(2))")
    make_task(owner, project["id"], title=f"Sub {evil}", parent_task_id=task["id"])
    owner.client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": f"Note {evil}"})
    html = browse(owner).page(f"/tasks/{task['id']}").text
    assert "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4
    assert "href=\"javascript:" not in html


def test_edit_fields_writes_only_what_changed(browse: Any, owner: User, make_user: Any,
                                              server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana = make_user("ana")
    add_member(owner, pid, ana, "editor")
    bug = make_label(owner, pid, "bug", "#e5484d")
    todo, _, done = columns_of(owner, pid)
    make_task(owner, pid, title="Already done", column_id=done["id"])
    task = make_task(owner, pid, title="Old title", column_id=todo["id"])
    tab = browse(owner)
    response = tab.post(f"/tasks/{task['id']}", the_form(
        task, title="New title", description="Line one\r\nLine two", priority="urgent",
        start_date="2031-01-02", due_date="2031-02-03", completed=["false", "true"],
        assignees=["", ana.username], label_ids=["", str(bug["id"])]))
    assert response.status_code == 303
    assert response.headers["location"] == f"/tasks/{task['id']}?saved=1"
    row = task_row(server, task["id"])
    assert (row["title"], row["description"], row["priority"], row["start_date"],
            row["due_date"], row["completed"], row["version"]) == (
        "New title", "Line one\nLine two", 4, "2031-01-02", "2031-02-03", 1,
        task["version"] + 1)
    assert [r[0] for r in server.sql("SELECT label_id FROM task_labels WHERE task_id = ?",
                                     (task["id"],))] == [bug["id"]]
    assert [r[0] for r in server.sql("SELECT user_id FROM task_assignees WHERE task_id = ?",
                                     (task["id"],))] == [ana.id]
    kind, payload = task_events(server, task["id"])[-1]
    assert kind == "task.updated"
    changes = re.search(r'"changes":\[([^\]]*)\]', payload)
    assert changes and sorted(changes.group(1).replace('"', "").split(",")) == [
        "assignees", "completed", "description", "due_date", "label_ids", "priority",
        "start_date", "title"]
    page = tab.page(response.headers["location"]).text
    assert "Saved." in page and "<p>Line one\nLine two</p>" in page

    # Saving the form unchanged writes nothing; moving it to another column puts it last.
    current = owner.client.get(f"/api/v1/tasks/{task['id']}").json()
    events = len(task_events(server, task["id"]))
    assert tab.post(f"/tasks/{task['id']}", the_form(current)).status_code == 303
    assert len(task_events(server, task["id"])) == events
    moved = tab.htmx("POST", f"/tasks/{task['id']}",
                     data=the_form(current, column_id=str(done["id"])))
    assert moved.status_code == 200 and "Saved." in moved.text
    assert [r[0] for r in server.sql("SELECT title FROM tasks WHERE column_id = ? ORDER BY rank",
                                     (done["id"],))] == ["Already done", "New title"]
    assert task_events(server, task["id"])[-1][1].count('"changes":["column_id"]') == 1
    assert f"{owner.username} moved “New title” to Done" in tab.page(
        f"/tasks/{task['id']}").text


def test_a_stale_version_shows_the_conflict_and_changes_nothing(
        browse: Any, owner: User, server: Server, project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Original")
    seen = dict(task)
    owner.client.patch(f"/api/v1/tasks/{task['id']}",
                       json={"version": task["version"], "title": "Theirs"})
    before = task_row(server, task["id"])
    events = len(task_events(server, task["id"]))
    tab = browse(owner)
    for post in (lambda data: tab.post(f"/tasks/{task['id']}", data),
                 lambda data: tab.htmx("POST", f"/tasks/{task['id']}", data=data)):
        response = post(the_form(seen, title="Mine", description="my words"))
        assert response.status_code == 409
        assert "Someone else changed this task" in response.text
        assert "Theirs" in response.text  # the current values
        assert "Mine" in response.text and "my words" in response.text  # what was typed
        assert f'name="version" value="{before["version"]}"' in response.text
        assert "reload the task" in response.text
    assert dict(task_row(server, task["id"])) == dict(before)
    assert len(task_events(server, task["id"])) == events


def test_clearing_the_due_date(browse: Any, owner: User, server: Server,
                               project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Dated", start_date="2031-01-01",
                     due_date="2031-01-31")
    response = browse(owner).htmx("POST", f"/tasks/{task['id']}",
                                  data=the_form(task, due_date=""))
    assert response.status_code == 200
    row = task_row(server, task["id"])
    assert (row["start_date"], row["due_date"]) == ("2031-01-01", None)
    assert '"changes":["due_date"]' in task_events(server, task["id"])[-1][1]
    assert f"{owner.username} cleared the due date of “Dated”" in response.text


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": "   "}, "title", "Fill this in"),
    ({"title": "t" * 501}, "title", "at most 500 characters"),
    ({"due_date": "2031-02-30"}, "due_date", "Use a date like 2026-05-31."),
    ({"start_date": "soon"}, "start_date", "Use a date like 2026-05-31."),
    ({"start_date": "2031-05-02", "due_date": "2031-05-01"}, "start_date",
     "The start date must not be after the due date."),
    ({"priority": "whenever"}, "priority", "Input should be"),
])
def test_invalid_input_is_shown_with_what_was_typed(
        browse: Any, owner: User, server: Server, project: dict[str, Any],
        changes: dict[str, str], field: str, message: str) -> None:
    task = make_task(owner, project["id"], title="Valid")
    before = dict(task_row(server, task["id"]))
    events = len(task_events(server, task["id"]))
    tab = browse(owner)
    typed = {"description": "typed *text* kept", **changes}
    for response in (tab.post(f"/tasks/{task['id']}", the_form(task, **typed)),
                     tab.htmx("POST", f"/tasks/{task['id']}", data=the_form(task, **typed))):
        assert response.status_code == 422
        assert message in response.text
        assert 'aria-invalid="true"' in response.text or "has-error" in response.text
        assert "typed *text* kept</textarea>" in response.text
        for value in changes.values():
            if value.strip() and field != "priority":
                assert value in response.text
    assert dict(task_row(server, task["id"])) == before
    assert len(task_events(server, task["id"])) == events


def test_subtasks_add_tick_and_delete(browse: Any, owner: User, server: Server,
                                      project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Parent")
    tab = browse(owner)
    added = tab.htmx("POST", f"/tasks/{task['id']}/subtasks", data={"title": "Step one"})
    assert added.status_code == 200 and "Step one" in added.text
    (sub,) = server.sql("SELECT id, completed FROM tasks WHERE parent_task_id = ?",
                        (task["id"],))
    empty = tab.htmx("POST", f"/tasks/{task['id']}/subtasks", data={"title": ""})
    assert empty.status_code == 422 and "Fill this in" in empty.text
    ticked = tab.htmx("POST", f"/tasks/{sub['id']}/complete", data={"completed": "true"},
                      headers={"X-Tasklette-Board": "1"})
    assert ticked.status_code == 200
    assert task_row(server, sub["id"])["completed"] == 1
    assert "1/1" in ticked.text and f'data-task-id="{task["id"]}"' in ticked.text
    assert 'aria-checked="true"' in ticked.text
    # the parent's card on the board is refreshed too
    assert re.search(rf'id="card-{task["id"]}"[^>]*hx-swap-oob="true"', ticked.text)
    # ticking again to the same state changes nothing; unticking works without htmx
    version = task_row(server, sub["id"])["version"]
    tab.htmx("POST", f"/tasks/{sub['id']}/complete", data={"completed": "true"})
    assert task_row(server, sub["id"])["version"] == version
    plain = tab.post(f"/tasks/{sub['id']}/complete", {"completed": "false"})
    assert plain.status_code == 303 and plain.headers["location"] == f"/tasks/{task['id']}"
    assert task_row(server, sub["id"])["completed"] == 0
    deleted = tab.htmx("POST", f"/tasks/{sub['id']}/delete")
    assert deleted.status_code == 200 and "Step one" not in deleted.text
    assert server.sql("SELECT COUNT(*) FROM tasks WHERE id = ?", (sub["id"],))[0][0] == 0
    # the subtask has its own page, which links back to its parent
    other = make_task(owner, project["id"], title="Child", parent_task_id=task["id"])
    page = tab.page(f"/tasks/{other['id']}").text
    assert "Subtask of" in page and f'href="/tasks/{task["id"]}"' in page
    assert 'name="column_id"' not in page


def test_delete_task_goes_back_to_the_board(browse: Any, owner: User, server: Server,
                                            project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Doomed")
    make_task(owner, project["id"], title="Doomed child", parent_task_id=task["id"])
    tab = browse(owner)
    assert "data-confirm=" in tab.page(f"/tasks/{task['id']}").text
    response = tab.post(f"/tasks/{task['id']}/delete")
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{project['id']}"
    assert server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ?",
                      (project["id"],))[0][0] == 0
    assert task_events(server, task["id"])[-1][0] == "task.deleted"
    assert tab.page(f"/tasks/{task['id']}").status_code == 404


def test_comments_follow_the_author_rules(browse: Any, owner: User, make_user: Any,
                                          server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    ana, ben = make_user("ana"), make_user("ben")
    add_member(owner, pid, ana, "editor")
    add_member(owner, pid, ben, "editor")
    task = make_task(owner, pid, title="Discuss")
    ana_tab, ben_tab, owner_tab = browse(ana), browse(ben), browse(owner)

    added = ana_tab.htmx("POST", f"/tasks/{task['id']}/comments",
                         data={"body": "First **thought**\r\n\r\n<script>x()</script>"})
    assert added.status_code == 200
    assert "First <strong>thought</strong>" in added.text and "<script>x()" not in added.text
    (comment,) = server.sql("SELECT id, body FROM comments WHERE task_id = ?", (task["id"],))
    assert comment["body"] == "First **thought**\n\n<script>x()</script>"
    empty = ana_tab.post(f"/tasks/{task['id']}/comments", {"body": "  "})
    assert empty.status_code == 422 and "Fill this in" in empty.text
    plain = ben_tab.post(f"/tasks/{task['id']}/comments", {"body": "Second"})
    assert plain.status_code == 303
    assert re.fullmatch(rf"/tasks/{task['id']}#comment-\d+", plain.headers["location"])
    page = ben_tab.page(f"/tasks/{task['id']}").text
    assert page.index("First") < page.index("Second")  # newest last
    # Ben can edit and delete only his own; Ana sees the controls on hers alone.
    assert f'action="/comments/{comment["id"]}/edit"' not in page
    assert f'action="/comments/{comment["id"]}/delete"' not in page
    mine = {"task_id": str(task["id"])}
    assert ben_tab.post(f"/comments/{comment['id']}/edit",
                        {**mine, "body": "hijack"}).status_code == 403
    assert ben_tab.post(f"/comments/{comment['id']}/delete", mine).status_code == 403
    edited = ana_tab.htmx("POST", f"/comments/{comment['id']}/edit",
                          data={**mine, "body": "Revised"})
    assert edited.status_code == 200 and "Revised" in edited.text and "· edited" in edited.text
    blank = ana_tab.post(f"/comments/{comment['id']}/edit", {**mine, "body": ""})
    assert blank.status_code == 422 and "Fill this in" in blank.text
    assert server.sql("SELECT body FROM comments WHERE id = ?",
                      (comment["id"],))[0][0] == "Revised"
    # The owner may delete anyone's comment, not edit it.
    owner_page = owner_tab.page(f"/tasks/{task['id']}").text
    assert f'action="/comments/{comment["id"]}/delete"' in owner_page
    assert f'action="/comments/{comment["id"]}/edit"' not in owner_page
    assert owner_tab.post(f"/comments/{comment['id']}/edit",
                          {**mine, "body": "x"}).status_code == 403
    deleted = owner_tab.htmx("POST", f"/comments/{comment['id']}/delete", data=mine)
    assert deleted.status_code == 200 and "Revised" not in deleted.text
    kinds = [kind for kind, _ in task_events(server, task["id"])]
    assert kinds[-4:] == ["comment.created", "comment.created", "comment.updated",
                          "comment.deleted"]
    assert f"{ana.username} edited a comment" in deleted.text
    assert f"{owner.username} deleted a comment" in deleted.text


def test_viewers_read_but_cannot_change(browse: Any, owner: User, make_user: Any,
                                        server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    task = make_task(owner, pid, title="Read only", description="**seen**")
    sub = make_task(owner, pid, title="A step", parent_task_id=task["id"])
    comment = owner.client.post(f"/api/v1/tasks/{task['id']}/comments",
                                json={"body": "hello"}).json()
    tab = browse(viewer)
    page = tab.page(f"/tasks/{task['id']}").text
    assert "Read only" in page and "<strong>seen</strong>" in page and "hello" in page
    detail = page.split('id="task-detail"')[1].split('<dialog id="shortcuts"')[0]
    # Watching changes nothing of the task, only what tells the viewer: theirs to choose.
    watch_form = re.search(r'<form class="watch-form".*?</form>', detail, re.DOTALL)
    assert watch_form is not None
    detail = detail.replace(watch_form.group(0), "")
    for control in ("<form", "hx-post", 'name="title"', "comment-form", "Delete task"):
        assert control not in detail, control
    before = dict(task_row(server, task["id"]))
    mine = {"task_id": str(task["id"])}
    for path, data in ((f"/tasks/{task['id']}", the_form(task, title="Changed")),
                       (f"/tasks/{task['id']}/subtasks", {"title": "more"}),
                       (f"/tasks/{sub['id']}/complete", {"completed": "true"}),
                       (f"/tasks/{task['id']}/comments", {"body": "me too"}),
                       (f"/comments/{comment['id']}/edit", {**mine, "body": "x"}),
                       (f"/comments/{comment['id']}/delete", mine),
                       (f"/tasks/{task['id']}/delete", {})):
        assert tab.post(path, data).status_code == 403, path
    assert dict(task_row(server, task["id"])) == before
    assert server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ?", (pid,))[0][0] == 2


def test_non_members_get_404(browse: Any, owner: User, project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Private")
    comment = owner.client.post(f"/api/v1/tasks/{task['id']}/comments",
                                json={"body": "secret"}).json()
    stranger = browse()
    page = stranger.page(f"/tasks/{task['id']}")
    assert page.status_code == 404 and "Private" not in page.text
    assert stranger.htmx("GET", f"/tasks/{task['id']}").status_code == 404
    assert stranger.post(f"/tasks/{task['id']}", the_form(task)).status_code == 404
    assert stranger.post(f"/tasks/{task['id']}/comments", {"body": "hi"}).status_code == 404
    assert stranger.post(f"/comments/{comment['id']}/delete",
                         {"task_id": str(task["id"])}).status_code == 404


# --- activity sentences -------------------------------------------------------------------


def event(kind: str, payload: dict[str, Any], who: str | None = "ana") -> dict[str, Any]:
    return {"kind": kind, "actor_username": who, "payload": payload,
            "created_at": "2026-05-31T10:00:00.000000Z"}


def test_activity_sentences() -> None:
    columns = {1: "To do", 2: "Done"}
    names = {"ana": "Ana", "ben": "Ben", "chloe": "Chloé"}
    task = {"title": "Fix login", "column_id": 2, "parent_task_id": None, "completed": False,
            "due_date": "2026-06-01", "priority": "high"}

    def say(kind: str, payload: dict[str, Any], who: str | None = "ana") -> str:
        return describe(event(kind, payload, who), columns, names)

    assert say("task.created", {"task": {**task, "column_id": 1}}) == \
        "Ana created “Fix login” in To do"
    assert say("task.created", {"task": {**task, "parent_task_id": 5}}) == \
        "Ana added the subtask “Fix login”"
    assert say("task.moved", {"task": task, "from": {"column_id": 1, "position": 0}}) == \
        "Ana moved “Fix login” to Done"
    assert say("task.moved", {"task": task, "from": {"column_id": 2, "position": 3}}) == \
        "Ana reordered “Fix login” in Done"
    assert say("task.updated", {"task": task, "changes": ["due_date"]}, "ben") == \
        "Ben changed the due date of “Fix login” to 2026-06-01"
    assert say("task.updated", {"task": {**task, "due_date": None},
                                "changes": ["due_date"]}) == \
        "Ana cleared the due date of “Fix login”"
    assert say("task.updated", {"task": {**task, "completed": True},
                                "changes": ["completed"]}) == "Ana completed “Fix login”"
    assert say("task.updated", {"task": task, "changes": ["completed"]}) == \
        "Ana reopened “Fix login”"
    assert say("task.updated", {"task": task, "changes": ["column_id"]}) == \
        "Ana moved “Fix login” to Done"
    assert say("task.updated", {"task": task, "changes": ["priority"]}) == \
        "Ana set the priority of “Fix login” to high"
    assert say("task.updated", {"task": task, "changes": ["title"]}) == \
        "Ana renamed a task to “Fix login”"
    assert say("task.updated", {"task": task, "changes": [
        "assignees", "description", "label_ids"]}) == \
        "Ana changed the assignees, the description and the labels of “Fix login”"
    assert say("task.label_added", {"task": task, "label": {"name": "bug"}}) == \
        "Ana added the label bug to “Fix login”"
    assert say("task.label_removed", {"task": task, "label": {"name": "bug"}}) == \
        "Ana removed the label bug from “Fix login”"
    assert say("task.deleted", {"title": "Fix login", "task_id": 3}) == "Ana deleted “Fix login”"
    assert say("comment.created", {"comment": {}, "task_title": "Fix login"}, "chloe") == \
        "Chloé commented on “Fix login”"
    assert say("comment.updated", {"comment": {}}) == "Ana edited a comment"
    assert say("comment.deleted", {"comment_id": 1}) == "Ana deleted a comment"
    # Unknown people, columns and kinds still make a sentence.
    assert describe(event("task.moved", {"task": {**task, "column_id": 9},
                                         "from": {"column_id": 1}}, None)) == \
        "Someone moved “Fix login” to another column"
    assert describe(event("task.created", {"task": task}, "zed")) == "zed created “Fix login”"
    assert describe(event("label.created", {"label": {"name": "x"}})) == "ana created a label"


def test_activity_on_the_page_reads_as_sentences(browse: Any, owner: User,
                                                 project: dict[str, Any]) -> None:
    pid = project["id"]
    _, _, done = columns_of(owner, pid)
    task = make_task(owner, pid, title="Launch")
    owner.client.post(f"/api/v1/tasks/{task['id']}/move", json={"column_id": done["id"]})
    bug = make_label(owner, pid, "bug", "#e5484d")
    owner.client.put(f"/api/v1/tasks/{task['id']}/labels/{bug['id']}")
    html = browse(owner).page(f"/tasks/{task['id']}").text
    sentences = re.findall(r'<span class="activity-text">([^<]*)</span>', html)
    who = owner.username
    assert sentences == [f"{who} added the label bug to “Launch”",
                         f"{who} moved “Launch” to Done",
                         f"{who} created “Launch” in To do"]
    today = datetime.date.today()
    assert '<time class="local muted" datetime="' + str(today.year) in html
