"""A board of 5,000 cards: drawn as needed, yet filtered, counted, dragged and kept live whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import new_context, save_screenshot, watched_page
from tests.browser.test_board import column, drag
from tests.browser.test_live import api
from tests.live_server import LiveServer

TASKS = 5000
COLUMNS = ("To do", "In progress", "Done")


def export_of_a_big_project() -> dict[str, Any]:
    """A Tasklette export of one project: 5,000 tasks dealt round three columns."""
    return {
        "format": "tasklette.project", "version": 1, "project": {"name": "Big board"},
        "columns": [{"id": n + 1, "name": name, "position": n}
                    for n, name in enumerate(COLUMNS)],
        "labels": [{"id": 1, "name": "tagged", "color": "#e5484d"}],
        "tasks": [{"id": n + 1, "column_id": n % 3 + 1, "parent_task_id": None,
                   "position": n // 3, "title": f"Task number {n}",
                   "labels": [1] if n % 10 == 0 else [], "completed": n % 3 == 2}
                  for n in range(TASKS)],
    }


@pytest.fixture(scope="module")
def big_board(browser: Browser, live_server: LiveServer, session_state: Any) -> int:
    """The id of a project of 5,000 tasks, imported through the API."""
    context = new_context(browser, live_server.url, storage_state=session_state)
    try:
        page = context.new_page()
        page.goto("/projects")
        csrf = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
        response = page.request.post("/api/v1/imports/tasklette",
                                     data=json.dumps(export_of_a_big_project()),
                                     headers={"X-CSRF-Token": csrf,
                                              "Content-Type": "application/json"})
        assert response.ok, response.text()
        return int(response.json()["project_id"])
    finally:
        context.close()


@pytest.fixture
def board(browser: Browser, live_server: LiveServer, session_state: Any, big_board: int,
          request: pytest.FixtureRequest) -> Iterator[Page]:
    context = new_context(browser, live_server.url, storage_state=session_state)
    pages = watched_page(context, request, live_server, f"/projects/{big_board}")
    page = next(pages)
    expect(page.locator("[data-live]")).to_have_attribute("data-state", "live")
    yield page
    next(pages, None)


def drawn(page: Page) -> int:
    return page.locator(".card").count()


def test_the_board_draws_a_few_cards_and_counts_them_all(board: Page) -> None:
    page = board
    assert drawn(page) < 200
    expect(page.locator(".board-summary")).to_have_text(f"3334 open of {TASKS} tasks")
    for name, count in zip(COLUMNS, (1667, 1667, 1666), strict=True):
        expect(column(page, name).locator("[data-count]")).to_have_text(str(count))
    # Scrolling a column to its end draws the cards that follow, in board order.
    before = drawn(page)
    todo = column(page, "To do").locator(".card-list")
    todo.evaluate("list => { list.scrollTop = list.scrollHeight; }")
    expect(page.locator(".card")).not_to_have_count(before)
    titles = todo.locator(".card .card-title").all_text_contents()
    assert titles[:3] == ["Task number 0", "Task number 3", "Task number 6"]
    assert titles == [f"Task number {3 * n}" for n in range(len(titles))]
    save_screenshot(page, "big-board.png")


def test_the_filter_finds_a_card_not_drawn_yet(board: Page) -> None:
    page = board
    last = f"Task number {TASKS - 1}"  # the last card of "In progress"
    assert page.get_by_text(last, exact=True).count() == 0
    page.locator("h1").first.click()
    page.keyboard.press("/")
    page.keyboard.type(last)
    card = page.locator(".card:visible")
    expect(card).to_have_count(1)
    expect(card.locator(".card-title")).to_have_text(last)
    expect(page.locator("[data-filter-status]")).to_have_text(f"1 of {TASKS} cards match")
    save_screenshot(page, "big-board-filtered.png")
    page.keyboard.press("Escape")
    expect(page.locator("[data-filter-status]")).to_have_text("")
    expect(page.locator(".board-summary")).to_have_text(f"3334 open of {TASKS} tasks")
    assert drawn(page) < 200  # what the filter drew waits again
    # A filter that matches most cards draws no more than a screenful of each column.
    page.keyboard.type("t")
    expect(page.locator("[data-filter-status]")).to_have_text(f"{TASKS} of {TASKS} cards match")
    page.keyboard.type("agged")
    expect(page.locator("[data-filter-status]")).to_have_text(f"500 of {TASKS} cards match")
    assert drawn(page) < 1300  # 40 matches a column, one card in ten: some 400 a column
    expect(column(page, "Done").locator(".card:visible").first).to_contain_text("tagged")


def test_a_card_not_drawn_yet_takes_live_changes(board: Page, big_board: int) -> None:
    page = board
    tasks = page.request.get(f"/api/v1/projects/{big_board}/tasks",
                             params={"sort": "-position", "limit": 1,
                                     "column": column(page, "In progress")
                                     .get_attribute("data-column-id") or ""}).json()["items"]
    task = tasks[0]
    assert page.locator(f"#card-{task['id']}").count() == 0  # not drawn
    api(page, "PATCH", f"/api/v1/tasks/{task['id']}",
        {"title": "Renamed while waiting", "version": task["version"]})
    # Its live event changes the card where it waits: the filter finds the new title.
    page.locator("[data-search]").fill("renamed while")
    card = page.locator(".card:visible")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-task-id", str(task["id"]))
    expect(card).to_contain_text("Renamed while waiting")
    page.locator("[data-search]").fill("")
    # A card moved into a column's waiting cards leaves the counts right.
    done = int(column(page, "Done").get_attribute("data-column-id") or 0)
    api(page, "POST", f"/api/v1/tasks/{task['id']}/move", {"column_id": done, "position": 1000})
    expect(column(page, "Done").locator("[data-count]")).to_have_text("1667")
    expect(column(page, "In progress").locator("[data-count]")).to_have_text("1666")
    api(page, "POST", f"/api/v1/tasks/{task['id']}/move", {"column_id": done, "position": 0})
    expect(column(page, "Done").locator(".card").first).to_have_attribute(
        "data-task-id", str(task["id"]))


def test_cards_drag_between_columns_of_the_big_board(board: Page) -> None:
    page = board
    card = column(page, "To do").locator(".card").nth(1)
    task_id = card.get_attribute("data-task-id")
    target = column(page, "In progress").locator(".card").first
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/tasks/{task_id}/move")
                              and r.request.method == "POST") as saved:
        drag(page, card, target)
    assert saved.value.status == 200, saved.value.text()
    moved = saved.value.json()
    cards = column(page, "In progress").locator(".card")
    expect(cards.nth(moved["position"])).to_have_attribute("data-task-id", str(task_id))


def test_quick_add_puts_the_new_card_after_every_waiting_one(board: Page, big_board: int
                                                             ) -> None:
    page = board
    todo = column(page, "To do")
    count = int(todo.locator("[data-count]").inner_text())
    field = todo.locator("form.quick-add input[name=title]")
    field.fill("Added at the very end")
    field.press("Enter")
    expect(field).to_have_value("")
    last = todo.locator(".card-list > .card").last
    expect(last).to_contain_text("Added at the very end")
    expect(todo.locator("[data-count]")).to_have_text(str(count + 1))
    expect(page.locator(f"#{last.get_attribute('id')}")).to_have_count(1)
    tasks = page.request.get(f"/api/v1/projects/{big_board}/tasks", params={
        "column": todo.get_attribute("data-column-id") or "", "sort": "-position",
        "limit": 1}).json()["items"]
    assert tasks[0]["title"] == "Added at the very end"
    assert todo.locator(".card-list > .card").count() == count + 1  # all drawn, in order
