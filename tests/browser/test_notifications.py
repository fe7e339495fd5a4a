"""Notifications in the browser: Ada assigns a task to Bob and mentions him; Bob's bell
counts both within a second, without a reload."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

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
from tests.browser.test_board import quick_add
from tests.live_server import LiveServer

LIVE_MS = 1000  # "within a second"
BOB = "bob-notified"
BOB_PASSWORD = "bob's long password"


@pytest.fixture(scope="module")
def bob(live_server: LiveServer) -> str:
    subprocess.run([sys.executable, "-m", "tasklette", "user", "create", BOB,
                    "--display-name", "Bob Marsh", "--password", BOB_PASSWORD,
                    "--data-dir", str(live_server.data_dir)],
                   check=True, capture_output=True, text=True)
    return BOB


@pytest.fixture
def bob_page(browser: Browser, live_server: LiveServer, bob: str,
             request: pytest.FixtureRequest) -> Iterator[Page]:
    context = new_context(browser, live_server.url)
    pages = watched_page(context, request, live_server)
    page = next(pages)
    sign_in(page, bob, BOB_PASSWORD)
    yield page
    next(pages, None)


def test_an_assignment_and_a_mention_ring_the_bell_live(signed_in: Page,
                                                         bob_page: Page) -> None:
    ada = signed_in
    project_id = create_project(ada, unique("Bells"))
    csrf = ada.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    shared = ada.request.post(f"/api/v1/projects/{project_id}/members",
                              data={"username": BOB, "role": "editor"},
                              headers={"X-CSRF-Token": csrf})
    assert shared.status == 201, shared.text()
    ada.reload()
    task_id = quick_add(ada, "To do", "Review the launch copy")

    bob_page.goto("/projects")
    bell = bob_page.locator("[data-bell]")
    expect(bell).to_have_attribute("data-unread", "0")  # its stream is open
    expect(bell.locator("[data-bell-count]")).to_be_hidden()

    # Ada assigns the task to Bob in its dialog...
    ada.locator(f".card[data-task-id='{task_id}']").click()
    detail = ada.locator("dialog#task-dialog #task-detail")
    form = detail.locator("form.task-form")
    form.locator(f"input[name=assignees][value='{BOB}']").check()
    form.locator("aside").get_by_role("button", name="Save changes").click()
    expect(detail.get_by_role("status")).to_contain_text("Saved")

    # ...and mentions him, the comment box completing his name.
    box = detail.locator("form.comment-form textarea[name=body]")
    box.click()
    box.press_sequentially("Could you look, @bob-n")
    options = detail.locator(".mention-list [role=option]")
    expect(options).to_have_text([f"@{BOB}"])
    detail.locator("header.task-head").scroll_into_view_if_needed()
    save_screenshot(ada, "mention-completion.png")
    box.press("Enter")
    expect(box).to_have_value(f"Could you look, @{BOB} ")
    expect(detail.locator("[data-watch]")).to_have_text("Unwatch")  # she created it
    box.press_sequentially("before Friday?")
    started = time.monotonic()
    detail.locator("form.comment-form").get_by_role("button", name="Comment").click()

    expect(bell.locator("[data-bell-count]")).to_have_text("2", timeout=LIVE_MS)
    assert time.monotonic() - started < LIVE_MS / 1000 + 0.5
    expect(bell).to_have_attribute("aria-label", "Notifications, 2 unread")
    save_screenshot(bob_page, "notification-bell.png")

    # The page lists both under the task, newest first; marking all read clears the bell.
    bell.click()
    group = bob_page.locator(f".notification-group[data-task-id='{task_id}']")
    expect(group.locator(".notification")).to_have_count(2)
    expect(group.locator(".notification").first).to_contain_text("mentioned you")
    expect(group.locator(".notification").last).to_contain_text("assigned you")
    expect(group.locator(".notification-excerpt")).to_contain_text("before Friday?")
    save_screenshot(bob_page, "notifications-page.png")
    bob_page.get_by_role("button", name="Mark all read").click()
    expect(bob_page.locator("[data-bell]")).to_have_attribute("data-unread", "0")
    expect(bob_page.locator(".notification.unread")).to_have_count(0)
