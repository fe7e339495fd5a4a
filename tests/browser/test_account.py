"""First-run setup, signing in and out, and the keyboard-shortcuts dialog, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import DISPLAY_NAME, PASSWORD, USERNAME, api_get, sign_in


def test_first_run_setup_creates_the_admin_and_signs_in(empty_page: Page) -> None:
    page = empty_page
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="Welcome to Tasklette")).to_be_visible()

    page.locator("input[name=username]").fill("grace")
    page.locator("input[name=display_name]").fill("Grace Hopper")
    page.locator("input[name=password]").fill("cobol compiler 1959")
    page.locator("input[name=password_again]").fill("a different password")
    page.get_by_role("button", name="Create account").click()
    # Two different passwords: the form comes back with the error and what was typed.
    expect(page.get_by_text("The two passwords are not the same.")).to_be_visible()
    expect(page.locator("input[name=username]")).to_have_value("grace")
    expect(page).to_have_url(re.compile(r"/setup$"))

    page.locator("input[name=password]").fill("cobol compiler 1959")
    page.locator("input[name=password_again]").fill("cobol compiler 1959")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/projects$"))
    expect(page.locator(".topbar details.menu summary")).to_contain_text("Grace Hopper")

    me = api_get(page, "/api/v1/me")
    assert me["username"] == "grace"
    assert me["display_name"] == "Grace Hopper"
    assert me["is_admin"] is True

    # Setup happens once: afterwards /setup leads away from the form.
    page.goto("/setup")
    expect(page).to_have_url(re.compile(r"/projects$"))
    expect(page.locator("input[name=password_again]")).to_have_count(0)


def test_sign_in_with_the_form(page: Page) -> None:
    page.goto("/projects")
    expect(page).to_have_url(re.compile(r"/signin\?next=(/|%2F)projects$"))

    page.locator("input[name=username]").fill(USERNAME)
    page.locator("input[name=password]").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    expect(page.locator("input[name=username]")).to_have_value(USERNAME)

    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/projects$"))
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.locator(".topbar details.menu summary")).to_contain_text(DISPLAY_NAME)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["tasklette_session"]["httpOnly"] is True


def test_sign_out_from_the_account_menu(page: Page) -> None:
    sign_in(page)
    old_cookie = next(c for c in page.context.cookies() if c["name"] == "tasklette_session")

    menu = page.locator(".topbar details.menu")
    menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    menu.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    assert not [c for c in page.context.cookies() if c["name"] == "tasklette_session"]

    page.goto("/projects")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    # The session is ended on the server too: the old cookie no longer works.
    page.context.add_cookies([{"name": old_cookie["name"], "value": old_cookie["value"],
                               "url": page.url}])
    page.goto("/projects")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    assert page.request.get("/api/v1/me").status == 401


def test_question_mark_opens_the_shortcuts_and_escape_closes_them(signed_in: Page) -> None:
    page = signed_in
    dialog = page.locator("dialog#shortcuts")
    expect(dialog).to_be_hidden()
    page.locator("body").click(position={"x": 5, "y": 300})  # focus on the page, not a field
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("open", "")
    expect(dialog.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Typing "?" into a field types it, and opens nothing.
    field = page.locator("input[name=name]")
    field.fill("")
    field.press_sequentially("Why?")
    expect(field).to_have_value("Why?")
    expect(dialog).to_be_hidden()

    # The "?" button in the top bar opens the same dialog; its Close button closes it.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
