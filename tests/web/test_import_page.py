"""Import from the projects page, export links in the settings, the calendar feed on the
account page."""

from __future__ import annotations

import re
from typing import Any

from icalendar import Calendar

from tests.conftest import Server, User
from tests.test_import_todoist import export as todoist_export
from tests.test_import_trello import FIXTURES


def upload(tab: Any, file_name: str, content: bytes, **fields: str) -> Any:
    return tab.client.post("/projects/import", files={"file": (file_name, content)},
                           data={"csrf_token": "", **fields})


def test_the_projects_page_offers_an_import(browse: Any, owner: User) -> None:
    page = browse(owner).page("/projects")
    assert 'action="/projects/import" enctype="multipart/form-data"' in page.text
    assert '<option value="auto" selected>Find out from the file</option>' in page.text
    assert "up to 50 MiB" in page.text


def test_upload_a_trello_board_and_a_todoist_csv(browse: Any, owner: User,
                                                 server: Server) -> None:
    tab = browse(owner)
    raw = (FIXTURES / "trello-board-customfields.json").read_bytes()
    done = upload(tab, "board.json", raw)  # the kind is found from the file
    assert done.status_code == 201, done.text
    assert "Imported “Project 100”" in done.text
    assert "Imported “Project 100” from Trello (project" in done.text
    project_id = int(re.search(r'href="/projects/(\d+)">Open the board', done.text)[1])
    assert server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ?", (project_id,))[0][0] \
        == 3
    named = upload(tab, "tasks.csv", todoist_export("mia"), source="todoist", project="Chores")
    assert named.status_code == 201, named.text
    assert "Imported “Chores” from Todoist" in named.text
    # A Tasklette export is recognised too.
    exported = owner.client.get(f"/api/v1/projects/{project_id}/export").content
    again = upload(tab, "export.json", exported)
    assert again.status_code == 201 and "from Tasklette" in again.text


def test_a_bad_upload_is_explained_and_changes_nothing(browse: Any, owner: User,
                                                       server: Server) -> None:
    tab = browse(owner)
    before = server.sql("SELECT COUNT(*) FROM projects")[0][0]
    wrong = upload(tab, "notes.md", (FIXTURES / "README.md").read_bytes(), source="trello",
                   project="Kept")
    assert wrong.status_code == 422
    assert 'role="alert"' in wrong.text
    assert "notes.md could not be imported: this is not a Trello board export" in wrong.text
    assert "Nothing was imported." in wrong.text
    assert 'value="Kept"' in wrong.text  # the form keeps what was typed
    assert '<option value="trello" selected>' in wrong.text
    not_csv = upload(tab, "x.csv", b"a,b\n1,2\n")
    assert not_csv.status_code == 422 and "not a Todoist CSV export" in not_csv.text
    missing = tab.client.post("/projects/import", data={"csrf_token": "", "project": "x"})
    assert missing.status_code == 422 and "Choose the file to import." in missing.text
    assert server.sql("SELECT COUNT(*) FROM projects")[0][0] == before


def test_cross_site_upload_is_refused(server: Server, owner: User, browse: Any) -> None:
    tab = browse(owner)
    response = tab.client.post("/projects/import", headers={"sec-fetch-site": "cross-site"},
                               files={"file": ("b.json", b"{}")})
    assert response.status_code == 403


def test_settings_link_to_the_exports(browse: Any, owner: User,
                                      project: dict[str, Any]) -> None:
    tab = browse(owner)
    page = tab.page(f"/projects/{project['id']}/settings")
    for fmt in ("json", "csv"):
        url = f"/api/v1/projects/{project['id']}/export?format={fmt}"
        assert f'href="{url}"' in page.text
        download = tab.page(url)  # the session is enough: a plain link works
        assert download.status_code == 200
        assert download.headers["content-disposition"].startswith("attachment;")


def test_calendar_feed_on_the_account_page(browse: Any, owner: User, anon: Any,
                                           project: dict[str, Any]) -> None:
    owner.client.post(f"/api/v1/projects/{project['id']}/tasks",
                      json={"title": "Dentist", "due_date": "2026-12-03"})
    tab = browse(owner)
    page = tab.page("/account")
    assert "You have no feed yet." in page.text
    made = tab.post("/account/calendar", {"action": "regenerate"})
    assert made.status_code == 200
    url = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', made.text)[1]
    assert "shown only this once" in made.text
    calendar = Calendar.from_ical(anon.get(url).content)
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["Dentist"]
    later = tab.page("/account")
    assert url not in later.text and "Your feed is on since" in later.text
    renewed = tab.post("/account/calendar", {"action": "regenerate"})
    new_url = re.search(r'readonly value="([^"]+)"', renewed.text)[1]
    assert new_url != url and anon.get(url).status_code == 404
    off = tab.post("/account/calendar", {"action": "off"})
    assert off.status_code == 200 and "You have no feed yet." in off.text
    assert anon.get(new_url).status_code == 404
