"""The search page and the header search box; saved views on the list page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import Server, User, add_member


def make_task(user: User, project_id: int, title: str, **fields: Any) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks",
                                json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def hits(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="search-hit[^"]*" data-task-id="(\d+)"', html)]


def test_search_page_shows_ranked_highlighted_results(browse: Any, owner: User,
                                                      project: dict[str, Any]) -> None:
    pid = project["id"]
    title = make_task(owner, pid, "Tune the <b>harpsichord</b>")
    body = make_task(owner, pid, "Music room", description="The harpsichord needs new strings")
    tab = browse(owner)
    page = tab.page("/search", params={"q": "harpsichord"})
    assert page.status_code == 200
    assert hits(page.text) == [title["id"], body["id"]]
    # Matches are marked; everything else in the text is escaped.
    assert "Tune the &lt;b&gt;<mark>harpsichord</mark>&lt;/b&gt;" in page.text
    assert "The <mark>harpsichord</mark> needs new strings" in page.text
    assert '<span class="snippet-field">Description:</span>' in page.text
    assert 'name="q" type="search" value="harpsichord"' in page.text
    assert "2 results, best match first." in page.text
    # The page has its own box: the header one is left out there, and shown elsewhere.
    assert 'class="topbar-search"' not in page.text
    assert 'class="topbar-search"' in tab.page("/projects").text


def test_search_page_scope_empty_and_errors(browse: Any, owner: User, make_user: Any,
                                            project: dict[str, Any]) -> None:
    here = make_task(owner, project["id"], "Grease the bicycle chain")
    other = owner.client.post("/api/v1/projects", json={"name": "Garage"}).json()
    there = make_task(owner, other["id"], "Bicycle pump")
    tab = browse(owner)
    assert sorted(hits(tab.page("/search", params={"q": "bicycle"}).text)) == sorted(
        [here["id"], there["id"]])
    scoped = tab.page("/search", params={"q": "bicycle", "project": other["id"]})
    assert hits(scoped.text) == [there["id"]]
    assert f'<option value="{other["id"]}" selected>Garage</option>' in scoped.text
    # Someone else's project id is not a way in: the search covers my projects instead.
    outsider = make_user("outsider")
    theirs = outsider.client.post("/api/v1/projects", json={"name": "Theirs"}).json()
    make_task(outsider, theirs["id"], "Their bicycle")
    sneaky = tab.page("/search", params={"q": "bicycle", "project": theirs["id"]})
    assert sorted(hits(sneaky.text)) == sorted([here["id"], there["id"]])
    nothing = tab.page("/search", params={"q": "unicycle"})
    assert nothing.status_code == 200 and "Nothing matches “unicycle”" in nothing.text
    bad = tab.page("/search", params={"q": "label:"})
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text and "This search could not be understood." in bad.text
    assert "Label: needs a value, e.g. label:bug." in bad.text
    assert 'aria-invalid="true"' in bad.text
    empty = tab.page("/search")
    assert empty.status_code == 200 and "Search the titles, descriptions" in empty.text


def test_search_page_needs_sign_in(anon: Any) -> None:
    response = anon.get("/search?q=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def view_pills(html: str) -> list[str]:
    return re.findall(r'class="view-pill"[^>]*>([^<]+)</a>', html)


def test_saved_views_on_the_list_page(browse: Any, owner: User, make_user: Any,
                                      server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    tab = browse(owner)
    path = f"/projects/{pid}/list"
    page = tab.page(path, params={"sort": "-due", "completed": "false"})
    assert view_pills(page.text) == ["All tasks"]
    assert 'name="query" value="completed=false&amp;sort=-due"' in page.text
    saved = tab.post(f"/projects/{pid}/views",
                     {"name": "Open, latest due", "query": "completed=false&sort=-due"})
    assert saved.status_code == 303
    location = saved.headers["location"]
    assert parse_qs(urlsplit(location).query) == {
        "completed": ["false"], "sort": ["-due"], "view_message": ["saved"]}
    page = tab.page(location)
    assert "The view is saved" in page.text
    assert view_pills(page.text) == ["All tasks", "Open, latest due"]
    assert 'aria-current="page">Open, latest due</a>' in page.text
    assert 'class="save-view"' not in page.text  # it is already a view
    [view] = owner.client.get(f"/api/v1/projects/{pid}/views").json()

    taken = tab.post(f"/projects/{pid}/views", {"name": "Open, latest due",
                                                "query": "sort=title"})
    assert "view_message=taken" in taken.headers["location"]
    assert "already has a view with that name" in tab.page(taken.headers["location"]).text
    invalid = tab.post(f"/projects/{pid}/views", {"name": "x", "query": "sort=sideways"})
    assert "view_message=invalid" in invalid.headers["location"]

    renamed = tab.post(f"/projects/{pid}/views/{view['id']}/rename", {"name": "Open"})
    assert renamed.status_code == 303
    assert view_pills(tab.page(renamed.headers["location"]).text) == ["All tasks", "Open"]

    # Shared: a viewer sees and opens the view, but gets no forms to change views.
    viewer = make_user("viewer")
    add_member(owner, pid, viewer, "viewer")
    seen = browse(viewer).page(path, params={"sort": "title"})
    assert view_pills(seen.text) == ["All tasks", "Open"]
    assert 'class="save-view"' not in seen.text and "Rename or delete views" not in seen.text

    deleted = tab.post(f"/projects/{pid}/views/{view['id']}/delete")
    assert deleted.status_code == 303
    assert view_pills(tab.page(deleted.headers["location"]).text) == ["All tasks"]
    assert server.sql("SELECT COUNT(*) FROM saved_views WHERE project_id = ?", (pid,))[0][0] == 0
    # A view of another project cannot be reached through this one's address.
    other = owner.client.post("/api/v1/projects", json={"name": "Other"}).json()
    foreign = owner.client.post(f"/api/v1/projects/{other['id']}/views",
                                json={"name": "Theirs", "query": "sort=title"}).json()
    assert tab.post(f"/projects/{pid}/views/{foreign['id']}/delete").status_code == 404
