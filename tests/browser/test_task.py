"""Opening a task from the board: its dialog and URL, labels, due date and comments."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import api_get, create_project, save_screenshot, unique
from tests.browser.test_board import column, quick_add


def create_label(page: Page, project_id: int, name: str, color: str) -> int:
    page.goto(f"/projects/{project_id}/labels")
    form = page.locator("form.new-label")
    form.locator("input[name=name]").fill(name)
    colour = form.locator("input[name=color][type=text]")
    colour.click()  # as a person would: into the field, then type over it
    colour.fill(color)
    expect(colour).to_have_value(color)
    form.get_by_role("button", name="Add label").click()
    row = page.locator("tr[data-label-id]", has_text=name)
    expect(row).to_be_visible()
    label_id = row.get_attribute("data-label-id")
    assert label_id is not None
    return int(label_id)


def test_open_a_task_label_it_date_it_and_comment(signed_in: Page) -> None:
    page = signed_in
    project_id = create_project(page, unique("Release"))
    bug = create_label(page, project_id, "bug", "#d73a4a")
    create_label(page, project_id, "design", "#0e8a16")

    page.goto(f"/projects/{project_id}")
    task_id = quick_add(page, "To do", "Fix the sign-in redirect")
    quick_add(page, "To do", "Write release notes")
    card = page.locator(f".card[data-task-id='{task_id}']")

    card.click()
    dialog = page.locator("dialog#task-dialog")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    detail = dialog.locator("#task-detail")
    expect(detail).to_have_attribute("data-task-id", str(task_id))
    expect(detail.locator("form.task-form [name=title]")).to_have_value("Fix the sign-in redirect")

    form = detail.locator("form.task-form")
    form.locator(f"input[name=label_ids][value='{bug}']").check()
    form.locator("input[name=due_date]").fill("2030-05-31")
    form.locator("aside").get_by_role("button", name="Save changes").click()
    expect(detail.get_by_role("status")).to_contain_text("Saved")
    expect(form.locator(f"input[name=label_ids][value='{bug}']")).to_be_checked()
    expect(form.locator("input[name=due_date]")).to_have_value("2030-05-31")
    # The card behind the dialog shows the change at once.
    expect(card.locator(".card-labels")).to_contain_text("bug")
    expect(card.locator("time[datetime='2030-05-31']")).to_be_visible()

    comment_form = detail.locator("form.comment-form")
    comment_form.locator("textarea[name=body]").fill("Seen in **Chromium** too.")
    comment_form.get_by_role("button", name="Comment").click()
    comment = dialog.locator("article.comment", has_text="Seen in Chromium too.")
    expect(comment).to_be_visible()
    expect(comment.locator("strong", has_text="Chromium")).to_be_visible()  # Markdown
    expect(comment_form.locator("textarea[name=body]")).to_have_value("")
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    save_screenshot(page, "task-dialog.png")

    task = api_get(page, f"/api/v1/tasks/{task_id}")
    assert [label["name"] for label in task["labels"]] == ["bug"]
    assert task["due_date"] == "2030-05-31"
    assert task["comment_count"] == 1
    comments = api_get(page, f"/api/v1/tasks/{task_id}/comments")
    assert [c["body"] for c in comments] == ["Seen in **Chromium** too."]

    # Esc closes the dialog and goes back to the board's address.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"))
    expect(column(page, "To do").locator(".card")).to_have_count(2)

    # The task's address works on its own, as a full page.
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("dialog#task-dialog")).to_have_count(0)
    detail = page.locator("#task-detail")
    expect(detail.locator("form.task-form [name=title]")).to_have_value("Fix the sign-in redirect")
    expect(detail.locator(f"input[name=label_ids][value='{bug}']")).to_be_checked()
    expect(detail.locator("input[name=due_date]")).to_have_value("2030-05-31")
    expect(detail.locator("article.comment")).to_contain_text("Seen in Chromium too.")

    # And the board shows the same after a reload.
    page.goto(f"/projects/{project_id}")
    card = page.locator(f".card[data-task-id='{task_id}']")
    expect(card.locator(".card-labels")).to_contain_text("bug")
    expect(card.locator("time[datetime='2030-05-31']")).to_be_visible()
    expect(card.locator(".badge.comments")).to_have_text("1")
    save_screenshot(page, "board.png")
