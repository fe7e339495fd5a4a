"""Creating a project from the projects page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import api_get, unique


def test_create_a_project_and_land_on_its_board(signed_in: Page) -> None:
    page = signed_in
    name = unique("Moon landing")

    # An empty name is not sent: the field is required.
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/projects$"))

    page.locator("input[name=name]").fill(name)
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    project_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    # A new project's board has the three default columns.
    columns = page.locator(".board-column[data-column-id]")
    expect(columns).to_have_count(3)
    expect(columns.nth(0)).to_contain_text("To do")
    expect(columns.nth(1)).to_contain_text("In progress")
    expect(columns.nth(2)).to_contain_text("Done")

    project = api_get(page, f"/api/v1/projects/{project_id}")
    assert project["name"] == name
    assert project["role"] == "owner"

    page.goto("/projects")
    card = page.locator(".project-card", has_text=name)
    expect(card).to_be_visible()
    card.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"))
