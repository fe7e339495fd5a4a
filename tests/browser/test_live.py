"""Live updates in the browser: two people on one board see each other's changes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    create_project,
    new_context,
    save_screenshot,
    sign_in,
    unique,
    watched_page,
)
from tests.browser.test_board import column, quick_add
from tests.live_server import LiveServer

LIVE_MS = 1000  # "within a second"
BEN_PASSWORD = "ben's long password"


def cli(server: LiveServer, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tasklette", *args, "--data-dir",
                           str(server.data_dir)], check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture(scope="module")
def ben(live_server: LiveServer) -> str:
    """A second account, and an API token for it."""
    cli(live_server, "user", "create", "ben", "--display-name", "Ben Okafor",
        "--password", BEN_PASSWORD)
    return cli(live_server, "token", "create", "ben").strip().splitlines()[-1]


@pytest.fixture
def ben_page(browser: Browser, live_server: LiveServer, ben: str,
             request: pytest.FixtureRequest) -> Iterator[Page]:
    context = new_context(browser, live_server.url)
    pages = watched_page(context, request, live_server)
    page = next(pages)
    sign_in(page, "ben", BEN_PASSWORD)
    yield page
    next(pages, None)


def share(page: Page, project_id: int, username: str) -> None:
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(f"/api/v1/projects/{project_id}/members",
                                 data={"username": username, "role": "editor"},
                                 headers={"X-CSRF-Token": csrf or ""})
    assert response.status == 201, response.text()


def api(page: Page, method: str, path: str, body: dict[str, Any]) -> Any:
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.fetch(path, method=method, data=body,
                                  headers={"X-CSRF-Token": csrf or ""})
    assert response.ok, response.text()
    return response.json() if response.status != 204 else None


def test_cards_created_moved_and_edited_by_one_appear_in_the_other(
        signed_in: Page, ben_page: Page) -> None:
    ada = signed_in
    project_id = create_project(ada, unique("Live board"))
    share(ada, project_id, "ben")
    ben_page.goto(f"/projects/{project_id}")
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live")
    expect(ben_page.locator("[data-live]")).to_have_attribute("data-state", "live")
    # Each sees the other on the board.
    expect(ada.locator("[data-presence] .initials")).to_have_attribute(
        "title", "Ben Okafor is viewing this board", timeout=LIVE_MS)
    # Ada is half-way through typing a task of her own: nothing may take that away.
    ada_field = column(ada, "Done").locator("form.quick-add input[name=title]")
    ada_field.fill("Half-typed by Ada")

    task_id = quick_add(ben_page, "To do", "Fix login")
    card = ada.locator(f"#card-{task_id}")
    expect(column(ada, "To do").locator(f"#card-{task_id}")).to_have_count(1, timeout=LIVE_MS)
    expect(card).to_contain_text("Fix login")

    done = int(column(ben_page, "Done").get_attribute("data-column-id") or 0)
    api(ben_page, "POST", f"/api/v1/tasks/{task_id}/move", {"column_id": done, "position": 0})
    expect(column(ada, "Done").locator(f"#card-{task_id}")).to_have_count(1, timeout=LIVE_MS)

    task = ben_page.request.get(f"/api/v1/tasks/{task_id}").json()
    api(ben_page, "PATCH", f"/api/v1/tasks/{task_id}",
        {"title": "Fix the login page", "priority": "high", "version": task["version"]})
    expect(card).to_contain_text("Fix the login page", timeout=LIVE_MS)
    expect(card.locator(".priority")).to_have_text("high")

    api(ben_page, "DELETE", f"/api/v1/tasks/{task_id}", {})
    expect(ada.locator(f"#card-{task_id}")).to_have_count(0, timeout=LIVE_MS)
    expect(ada_field).to_have_value("Half-typed by Ada")
    expect(ada_field).to_be_focused()
    save_screenshot(ada, "board-live.png")


def test_the_open_task_dialog_follows_changes_without_losing_typing(
        signed_in: Page, ben_page: Page) -> None:
    ada = signed_in
    project_id = create_project(ada, unique("Live dialog"))
    share(ada, project_id, "ben")
    task_id = quick_add(ada, "To do", "Write the brief")
    ada.locator(f"#card-{task_id}").click()
    dialog = ada.locator("#task-dialog")
    expect(dialog.locator("#task-detail")).to_be_visible()
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live")

    ben_page.goto(f"/projects/{project_id}")
    task = ben_page.request.get(f"/api/v1/tasks/{task_id}").json()
    api(ben_page, "PATCH", f"/api/v1/tasks/{task_id}",
        {"description": "Two pages, for the board.", "version": task["version"]})
    expect(dialog.locator(".task-description .markdown")).to_contain_text(
        "Two pages, for the board.", timeout=LIVE_MS)

    # Now Ada types; Ben's next change must not wipe it out.
    title = dialog.locator("textarea[name=title]")
    title.fill("Write the brief (draft)")
    api(ben_page, "POST", f"/api/v1/tasks/{task_id}/comments", {"body": "On it"})
    expect(dialog.locator(".live-notice")).to_contain_text("Ben Okafor changed this task",
                                                           timeout=LIVE_MS)
    expect(title).to_have_value("Write the brief (draft)")


def test_a_page_catches_up_after_the_server_restarts(
        signed_in: Page, live_server: LiveServer, ben: str) -> None:
    ada = signed_in
    project_id = create_project(ada, unique("Restart"))
    share(ada, project_id, "ben")
    todo = int(column(ada, "To do").get_attribute("data-column-id") or 0)
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live")
    port = live_server.port

    live_server.stop()
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "reconnecting")
    # While Ada's page cannot reach the server, Ben works through another process.
    other = LiveServer(live_server.data_dir).start()
    try:
        with httpx.Client(base_url=other.url, timeout=30,
                          headers={"Authorization": f"Bearer {ben}"}) as client:
            made = [client.post(f"/api/v1/projects/{project_id}/tasks",
                                json={"title": f"Made while away {n}", "column_id": todo})
                    for n in range(2)]
            assert [r.status_code for r in made] == [201, 201]
    finally:
        other.stop()
    live_server.start(port)

    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live", timeout=15_000)
    for response in made:
        expect(ada.locator(f"#card-{response.json()['id']}")).to_contain_text("Made while away")


def test_the_list_view_and_the_activity_page_update_live(
        signed_in: Page, ben_page: Page) -> None:
    ada = signed_in
    project_id = create_project(ada, unique("Live pages"))
    share(ada, project_id, "ben")
    ben_page.goto(f"/projects/{project_id}")
    todo = int(column(ben_page, "To do").get_attribute("data-column-id") or 0)

    ada.goto(f"/projects/{project_id}/list")
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live")
    api(ben_page, "POST", f"/api/v1/projects/{project_id}/tasks",
        {"title": "Listed live", "column_id": todo})
    expect(ada.locator(".task-table")).to_contain_text("Listed live", timeout=LIVE_MS)

    ada.goto(f"/projects/{project_id}/activity")
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live")
    api(ben_page, "POST", f"/api/v1/projects/{project_id}/tasks",
        {"title": "Logged live", "column_id": todo})
    newest = ada.locator("#activity-entries [data-event-id]").first
    expect(newest).to_contain_text("Logged live", timeout=LIVE_MS)
    expect(newest).to_contain_text("Ben Okafor")


def same_card_as_the_server_draws(page: Page, task_id: int) -> None:
    """The card on the page (drawn by cards.js from an event) is the server's card."""
    response = page.request.get(f"/tasks/{task_id}/card")
    assert response.ok, response.text()
    task = page.request.get(f"/api/v1/tasks/{task_id}").json()
    drawn, served, text, text_of_card = page.evaluate("""([id, html, task]) => {
        const card = document.getElementById('card-' + id).cloneNode(true);
        card.classList.remove('live-changed');
        const holder = document.createElement('template');
        holder.innerHTML = html.trim();
        const today = document.querySelector('[data-board]').dataset.today;
        return [card.outerHTML, holder.content.firstElementChild.outerHTML,
                window.tasklette.cards.text(task, today), card.textContent];
    }""", [task_id, response.text(), task])
    assert drawn == served
    assert text == text_of_card  # what the filter reads of cards not drawn


def test_a_card_changed_by_another_person_is_redrawn_from_the_event_without_a_request(
        signed_in: Page, ben_page: Page) -> None:
    ada = signed_in
    project_id = create_project(ada, unique("Patched live"))
    share(ada, project_id, "ben")
    task_id = quick_add(ada, "To do", "Plan the trip")
    in_progress = int(column(ada, "In progress").get_attribute("data-column-id") or 0)
    label = api(ada, "POST", f"/api/v1/projects/{project_id}/labels",
                {"name": "travel <b>", "color": "#3a7bd5"})
    ada.reload()
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live")
    requests: list[str] = []
    ada.on("request", lambda r: requests.append(f"{r.method} {r.url}")
           if "/events" not in r.url else None)
    card = ada.locator(f"#card-{task_id}")

    task = ben_page.request.get(f"/api/v1/tasks/{task_id}").json()
    api(ben_page, "PATCH", f"/api/v1/tasks/{task_id}",
        {"title": "Plan the <trip>", "priority": "urgent", "due_date": "2020-02-03",
         "assignees": ["ada", "ben"], "version": task["version"]})
    expect(card.locator(".card-title")).to_have_text("Plan the <trip>", timeout=LIVE_MS)
    expect(card.locator(".priority")).to_have_text("urgent")
    expect(card.locator(".badge.due.overdue")).to_have_text("3 Feb 2020")
    expect(card.locator(".initials")).to_have_text(["AL", "BO"])

    api(ben_page, "POST", f"/api/v1/tasks/{task_id}/comments", {"body": "Booked"})
    expect(card.locator(".badge.comments")).to_have_text("1", timeout=LIVE_MS)
    sub = api(ben_page, "POST", f"/api/v1/projects/{project_id}/tasks",
              {"title": "Pack", "parent_task_id": task_id})
    expect(card.locator(".badge.subtasks")).to_have_text("0/1", timeout=LIVE_MS)
    api(ben_page, "PATCH", f"/api/v1/tasks/{sub['id']}",
        {"completed": True, "version": sub["version"]})
    expect(card.locator(".badge.subtasks")).to_have_text("1/1", timeout=LIVE_MS)
    api(ben_page, "PUT", f"/api/v1/tasks/{task_id}/labels/{label['id']}", {})
    expect(card.locator(".card-labels .label")).to_have_text("travel <b>", timeout=LIVE_MS)
    api(ben_page, "POST", f"/api/v1/tasks/{task_id}/move",
        {"column_id": in_progress, "position": 0})
    expect(column(ada, "In progress").locator(f"#card-{task_id}")).to_have_count(
        1, timeout=LIVE_MS)
    expect(column(ada, "In progress").locator("[data-count]")).to_have_text("1")
    ada.wait_for_timeout(300)  # a late fetch would show here
    assert requests == [], f"the board asked the server: {requests}"
    same_card_as_the_server_draws(ada, task_id)
    save_screenshot(ada, "board-live-patched.png")


def test_a_list_row_changed_by_another_person_is_redrawn_from_the_event_without_a_request(
        signed_in: Page, ben_page: Page) -> None:
    ada = signed_in
    project_id = create_project(ada, unique("Patched list"))
    share(ada, project_id, "ben")
    task_id = quick_add(ada, "To do", "Plan the trip")
    other = quick_add(ada, "To do", "Book the hotel")
    label = api(ada, "POST", f"/api/v1/projects/{project_id}/labels",
                {"name": "travel <b>", "color": "#3a7bd5"})
    ada.goto(f"/projects/{project_id}/list")
    expect(ada.locator("[data-live]")).to_have_attribute("data-state", "live")
    requests: list[str] = []
    ada.on("request", lambda r: requests.append(f"{r.method} {r.url}")
           if "/events" not in r.url else None)
    row = ada.locator(f"tr[data-task-id='{task_id}']")

    task = ben_page.request.get(f"/api/v1/tasks/{task_id}").json()
    api(ben_page, "PATCH", f"/api/v1/tasks/{task_id}",
        {"title": "Plan the <trip>", "priority": "urgent", "due_date": "2020-02-03",
         "assignees": ["ada", "ben"], "completed": True, "version": task["version"]})
    expect(row.locator(".task-title")).to_have_text("Plan the <trip>", timeout=LIVE_MS)
    expect(row.locator(".status")).to_have_text("✓ Done")
    api(ben_page, "PUT", f"/api/v1/tasks/{task_id}/labels/{label['id']}", {})
    expect(row.locator(".label")).to_have_text("travel <b>", timeout=LIVE_MS)
    ada.wait_for_timeout(300)  # the list's fetch would come 250 ms after an event
    assert requests == [], f"the list asked the server: {requests}"
    # Drawn as the server draws it.
    page = ada.request.get(f"/projects/{project_id}/list").text()
    drawn, served = ada.evaluate("""([id, html]) => {
        const squeeze = (text) => text.replace(/\\s+/g, ' ').replace(/> </g, '><').trim();
        const served = new DOMParser().parseFromString(html, 'text/html')
            .querySelector('tr[data-task-id="' + id + '"]');
        return [squeeze(document.querySelector('tr[data-task-id="' + id + '"]').outerHTML),
                squeeze(served.outerHTML)];
    }""", [task_id, page])
    assert drawn == served
    # A change that moves a row along the page (here: to another column) fetches it.
    done = ben_page.request.get(f"/api/v1/projects/{project_id}/columns").json()[-1]["id"]
    expect(ada.locator("tr[data-task-id]").first).to_have_attribute("data-task-id",
                                                                    str(task_id))
    api(ben_page, "POST", f"/api/v1/tasks/{task_id}/move", {"column_id": done})
    expect(ada.locator("tr[data-task-id]").first).to_have_attribute(
        "data-task-id", str(other), timeout=LIVE_MS)
    assert any("/list" in r for r in requests)
