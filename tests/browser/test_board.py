"""The board: quick-add, dragging cards between columns, and the board's shortcuts."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import api_get, create_project, save_screenshot, unique


def column(page: Page, name: str) -> Locator:
    return page.locator(".board-column[data-column-id]").filter(
        has=page.get_by_role("heading", name=name, exact=True))


def column_id(page: Page, name: str) -> int:
    value = column(page, name).get_attribute("data-column-id")
    assert value is not None
    return int(value)


def quick_add(page: Page, column_name: str, title: str) -> int:
    """Add a task with the column's quick-add form (htmx); returns the new card's task id."""
    col = column(page, column_name)
    cards = col.locator(".card-list .card[data-task-id]")
    before = cards.count()
    field = col.locator("form.quick-add input[name=title]")
    field.fill(title)
    field.press("Enter")
    expect(cards).to_have_count(before + 1)
    card = cards.nth(before)
    expect(card).to_contain_text(title)
    expect(field).to_have_value("")  # ready for the next one
    task_id = card.get_attribute("data-task-id")
    assert task_id is not None
    return int(task_id)


def titles(page: Page, column_name: str) -> list[str]:
    return [t.strip() for t in
            column(page, column_name).locator(".card-list .card .card-title").all_inner_texts()]


def test_quick_add_tasks_without_leaving_the_board(signed_in: Page) -> None:
    page = signed_in
    project_id = create_project(page, unique("Quick add"))
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    first = quick_add(page, "To do", "Write the brief")
    quick_add(page, "To do", "Book the venue")
    quick_add(page, "In progress", "Draft the budget")
    assert page.evaluate("window.__sameDocument === true"), "quick-add reloaded the page"
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"))
    expect(column(page, "To do").locator("[data-count]")).to_have_text("2")
    expect(column(page, "In progress").locator("[data-count]")).to_have_text("1")
    expect(page.locator(".board-summary")).to_have_text("3 open of 3 tasks")  # no reload

    # An empty title is not sent (the field is required) and adds nothing.
    column(page, "Done").locator("form.quick-add input[name=title]").press("Enter")
    expect(column(page, "Done").locator(".card")).to_have_count(0)

    page.reload()
    expect(page.locator(".board-summary")).to_have_text("3 open of 3 tasks")
    assert titles(page, "To do") == ["Write the brief", "Book the venue"]
    assert titles(page, "In progress") == ["Draft the budget"]
    task = api_get(page, f"/api/v1/tasks/{first}")
    assert task["title"] == "Write the brief"
    assert task["column_id"] == column_id(page, "To do")
    assert task["project_id"] == project_id


def drag(page: Page, card: Locator, target: Locator) -> None:
    """Drag `card` onto `target` with the mouse, in small steps as a person would."""
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    end = target.bounding_box()
    assert start is not None and end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + start["height"] / 2 + 5,
                    steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + min(end["height"] / 2, 30),
                    steps=20)
    page.mouse.up()


def test_drag_a_card_to_another_column_and_it_stays_there(signed_in: Page) -> None:
    page = signed_in
    project_id = create_project(page, unique("Drag"))
    quick_add(page, "To do", "Pack the tent")
    moved = quick_add(page, "To do", "Check the weather")
    quick_add(page, "To do", "Buy marshmallows")
    in_progress = column_id(page, "In progress")

    card = page.locator(f".card[data-task-id='{moved}']")
    target = column(page, "In progress").locator(".card-list")
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/tasks/{moved}/move")
                              and r.request.method == "POST") as saved:
        drag(page, card, target)
    assert saved.value.status == 200, saved.value.text()
    expect(target.locator(f".card[data-task-id='{moved}']")).to_be_visible()
    expect(column(page, "In progress").locator("[data-count]")).to_have_text("1")
    expect(column(page, "To do").locator("[data-count]")).to_have_text("2")

    page.reload()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"))
    assert titles(page, "In progress") == ["Check the weather"]
    assert titles(page, "To do") == ["Pack the tent", "Buy marshmallows"]
    task = api_get(page, f"/api/v1/tasks/{moved}")
    assert task["column_id"] == in_progress
    assert task["position"] == 0
    save_screenshot(page, "board-after-drag.png")


def test_board_keyboard_shortcuts(signed_in: Page) -> None:
    page = signed_in
    create_project(page, unique("Shortcuts"))
    quick_add(page, "To do", "Water the plants")
    quick_add(page, "To do", "Feed the cat")
    page.locator("h1").first.click()  # nothing focused that takes typing

    page.keyboard.press("?")
    shortcuts = page.locator("dialog#shortcuts")
    expect(shortcuts).to_be_visible()
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()

    # n: the first column's quick-add field, ready for a title.
    page.keyboard.press("n")
    first_add = column(page, "To do").locator("form.quick-add input[name=title]")
    expect(first_add).to_be_focused()
    expect(first_add).to_have_value("")  # the "n" itself was not typed in
    page.keyboard.type("Walk the dog")
    page.keyboard.press("Enter")
    expect(column(page, "To do").locator(".card")).to_have_count(3)

    # /: the card filter.
    page.locator("h1").first.click()
    page.keyboard.press("/")
    search = page.locator("[data-search]")
    expect(search).to_be_focused()
    page.keyboard.type("cat")
    expect(page.locator(".card:visible")).to_have_count(1)
    expect(page.locator(".card:visible")).to_contain_text("Feed the cat")
    page.keyboard.press("Escape")
    expect(page.locator(".card:visible")).to_have_count(3)
