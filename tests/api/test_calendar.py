"""The calendar feed: a secret .ics address per user, parsed as calendar apps parse it."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import httpx
from icalendar import Calendar

from tests.conftest import Server, User, add_member


def make_task(user: User, project_id: int, title: str, **fields: Any) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks",
                                json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def new_feed(user: User) -> str:
    response = user.client.post("/api/v1/me/calendar")
    assert response.status_code == 201, response.text
    return str(response.json()["url"])


def events(anon: httpx.Client, url: str) -> dict[str, Any]:
    response = anon.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_feed_lists_dated_tasks_of_my_projects(owner: User, make_user: Any, anon: httpx.Client,
                                               server: Server, project: dict[str, Any]) -> None:
    pid = project["id"]
    title = "Ship v2; tell ops, then \\ celebrate"
    long_text = "Release notes. " * 40
    dated = make_task(owner, pid, title, due_date="2026-12-01", description=long_text,
                      priority="high")
    done = make_task(owner, pid, "Book the venue", due_date="2026-11-20", completed=True)
    make_task(owner, pid, "Someday")  # no due date: not in the feed
    stranger = make_user("stranger")
    elsewhere = stranger.client.post("/api/v1/projects", json={"name": "Elsewhere"}).json()
    make_task(stranger, elsewhere["id"], "Not mine", due_date="2026-12-02")

    url = new_feed(owner)
    assert url.startswith(server.base_url + "/calendar/cal_") and url.endswith(".ics")
    response = anon.get(url)  # no session, no token: the address is the key
    raw = response.text
    # Long lines are folded at 75 octets; commas, semicolons and backslashes escaped.
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))
    assert "SUMMARY:Ship v2\\; tell ops\\, then \\\\ celebrate" in raw
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0" and "Tasklette" in str(calendar["PRODID"])
    found = events(anon, url)
    host = server.base_url.split("//")[1].split(":")[0]
    assert set(found) == {f"task-{dated['id']}@{host}", f"task-{done['id']}@{host}"}
    event = found[f"task-{dated['id']}@{host}"]
    assert str(event["SUMMARY"]) == title  # unescaped again by the parser
    assert event.decoded("DTSTART") == datetime.date(2026, 12, 1)
    assert event.decoded("DTEND") == datetime.date(2026, 12, 2)  # an all-day event
    assert event.decoded("DTSTAMP").tzinfo is not None
    assert "Launch · To do" in str(event["DESCRIPTION"])
    assert "Priority: high" in str(event["DESCRIPTION"])
    assert str(event["URL"]) == f"{server.base_url}/tasks/{dated['id']}"
    assert str(found[f"task-{done['id']}@{host}"]["SUMMARY"]) == "✓ Book the venue"

    # The same task keeps its UID after a change, so apps update rather than duplicate.
    owner.client.patch(f"/api/v1/tasks/{dated['id']}",
                       json={"version": dated["version"], "due_date": "2026-12-05"})
    again = events(anon, url)[f"task-{dated['id']}@{host}"]
    assert again.decoded("DTSTART") == datetime.date(2026, 12, 5)
    assert int(again["SEQUENCE"]) == int(event["SEQUENCE"]) + 1

    # Someone else's feed shows their projects only, until they join mine.
    stranger_url = new_feed(stranger)
    assert len(events(anon, stranger_url)) == 1
    add_member(owner, pid, stranger, "viewer")
    assert len(events(anon, stranger_url)) == 3


def test_regenerate_turn_off_and_stored_hashed(owner: User, anon: httpx.Client,
                                               server: Server) -> None:
    assert owner.client.get("/api/v1/me/calendar").json() == {"active": False,
                                                              "created_at": None, "url": None}
    first = new_feed(owner)
    secret = first.rsplit("/", 1)[1].removesuffix(".ics")
    stored = server.sql("SELECT token_hash FROM calendar_feeds WHERE user_id = ?", (owner.id,))
    assert [row["token_hash"] for row in stored] == [hashlib.sha256(secret.encode()).hexdigest()]
    status = owner.client.get("/api/v1/me/calendar").json()
    assert status["active"] is True and status["url"] is None  # never shown again
    second = new_feed(owner)
    assert second != first
    assert anon.get(first).status_code == 404  # regenerated: the old address is dead
    assert anon.get(second).status_code == 200
    assert owner.client.delete("/api/v1/me/calendar").status_code == 204
    assert anon.get(second).status_code == 404
    assert owner.client.get("/api/v1/me/calendar").json()["active"] is False
    for wrong in ("/calendar/nothing.ics", "/calendar/cal_" + "x" * 43 + ".ics"):
        assert anon.get(wrong).status_code == 404


def test_unchanged_feed_answers_304(owner: User, anon: httpx.Client,
                                    project: dict[str, Any]) -> None:
    make_task(owner, project["id"], "Dated", due_date="2026-12-01")
    url = new_feed(owner)
    first = anon.get(url)
    etag = first.headers["etag"]
    assert anon.get(url, headers={"if-none-match": etag}).status_code == 304
    make_task(owner, project["id"], "Another", due_date="2026-12-02")
    assert anon.get(url, headers={"if-none-match": etag}).status_code == 200


def test_managing_the_feed_needs_a_token(anon: httpx.Client) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = anon.request(method, "/api/v1/me/calendar")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
