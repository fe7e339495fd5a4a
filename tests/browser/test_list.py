"""The list view: filtering tasks with the filter form, kept in the URL."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import create_project, save_screenshot, unique
from tests.browser.test_board import column_id, quick_add


def row_titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("tr[data-task-id] .task-title").all_inner_texts()]


def test_filter_the_list_view(signed_in: Page) -> None:
    page = signed_in
    project_id = create_project(page, unique("Errands"))
    milk = quick_add(page, "To do", "Buy milk")
    bread = quick_add(page, "Done", "Buy bread")
    plumber = quick_add(page, "To do", "Call the plumber")
    done = column_id(page, "Done")

    page.goto(f"/projects/{project_id}/list")
    rows = page.locator("tr[data-task-id]")
    expect(rows).to_have_count(3)
    assert sorted(row_titles(page)) == ["Buy bread", "Buy milk", "Call the plumber"]

    filters = page.locator("form.filters")
    filters.locator("input[name=q]").fill("buy")
    filters.locator("input[name=q]").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=buy(&|$)"))
    page.wait_for_load_state("load")  # pages.js, which applies a changed select
    expect(rows).to_have_count(2)
    assert sorted(row_titles(page)) == ["Buy bread", "Buy milk"]
    assert {int(r.get_attribute("data-task-id") or 0) for r in rows.all()} == {milk, bread}
    # Empty filters stay out of the address.
    assert "label=" not in page.url and "assignee=" not in page.url

    # A select applies as soon as it changes, on top of the search.
    filters.locator("select[name=column]").select_option(str(done))
    expect(page).to_have_url(re.compile(rf"[?&]column={done}(&|$)"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-task-id", str(bread))
    expect(filters.locator("input[name=q]")).to_have_value("buy")

    # The filtered view survives a reload: it lives in the address.
    page.reload()
    expect(rows).to_have_count(1)
    expect(filters.locator("select[name=column]")).to_have_value(str(done))
    save_screenshot(page, "list-filtered.png")

    # Nothing matches: an empty result says so.
    filters.locator("input[name=q]").fill("plumber")
    filters.locator("input[name=q]").press("Enter")
    expect(rows).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("No tasks match")

    page.get_by_role("link", name="Clear filters").first.click()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}/list(\?sort=position)?$"))
    page.wait_for_load_state("load")
    expect(rows).to_have_count(3)
    expect(filters.locator("input[name=q]")).to_have_value("")
    assert plumber in {int(r.get_attribute("data-task-id") or 0) for r in rows.all()}

    # "/" jumps to the search field.
    page.locator("h1").first.click()
    page.keyboard.press("/")
    expect(filters.locator("input[name=q]")).to_be_focused()
