"""At phone width (390x844) nothing sticks out sideways, and every control can be reached."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    LiveServer,
    new_context,
    save_screenshot,
    sign_in,
    unique,
    watched_page,
)
from tests.browser.test_board import column, quick_add

PHONE = {"width": 390, "height": 844}

# Lists what sticks out of the viewport sideways: the page itself, and any visible element
# that is not inside `scroller` (the board's columns scroll sideways inside it, on purpose),
# or that is inside it but escapes its clipping (positioned against something outside it).
OVERFLOW = """(scroller) => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const found = [];
  if (root.scrollWidth > width) found.push(`the page is ${root.scrollWidth}px wide`);
  if (document.body.scrollWidth > document.body.clientWidth)
    found.push(`the body is ${document.body.scrollWidth}px wide`);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    [...el.classList].map((c) => "." + c).join("");
  const box = scroller ? document.querySelector(scroller) : null;
  const clipped = (el) => {
    if (!box || !box.contains(el.parentElement)) return false;
    const position = getComputedStyle(el).position;
    if (position === "fixed") return false;
    if (position !== "absolute") return true;
    return el.offsetParent !== null && box.contains(el.offsetParent);
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".skip-link, dialog:not([open])")) continue;
    if (clipped(el)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const rect = el.getBoundingClientRect();
    if (rect.width < 1 || rect.height < 1) continue;
    if (rect.left < -1 || rect.right > width + 1)
      found.push(`${name(el)} spans x=${Math.round(rect.left)}..${Math.round(rect.right)}`);
  }
  return found.slice(0, 15);
}"""


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer,
          request: pytest.FixtureRequest) -> Iterator[Page]:
    context = new_context(browser, live_server.url, viewport=PHONE, device_scale_factor=2,
                          is_mobile=True, has_touch=True)
    yield from watched_page(context, request, live_server)


def no_sideways_overflow(page: Page, scroller: str | None = None) -> None:
    problems = page.evaluate(OVERFLOW, scroller)
    assert not problems, f"{page.url} overflows at phone width:\n" + "\n".join(problems)


def reachable(page: Page, control: Locator) -> None:
    """The control can be scrolled to, lies inside the screen and is not covered."""
    control.scroll_into_view_if_needed()
    expect(control).to_be_in_viewport()
    box = control.bounding_box()
    assert box is not None
    assert box["x"] >= -1 and box["x"] + box["width"] <= PHONE["width"] + 1, box
    on_top = control.evaluate("""(el) => {
      const box = el.getBoundingClientRect();
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      return hit !== null && (hit === el || el.contains(hit) || hit.contains(el));
    }""")
    assert on_top, f"something covers {control}"


def test_projects_page_and_board_fit_a_phone(phone: Page) -> None:
    page = phone
    sign_in(page)
    no_sideways_overflow(page)
    reachable(page, page.locator(".topbar details.menu summary"))
    reachable(page, page.get_by_role("button", name="Keyboard shortcuts"))
    reachable(page, page.locator("input[name=name]"))
    reachable(page, page.get_by_role("button", name="Create project"))

    # A long project name must wrap, not push the page sideways.
    name = unique("Quarterly planning for the northern regional distribution centres")
    page.locator("input[name=name]").tap()
    page.locator("input[name=name]").fill(name)
    page.get_by_role("button", name="Create project").tap()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    page.wait_for_load_state("load")  # the board's scripts, before typing
    project_id = int(page.url.rsplit("/", 1)[1])
    for title in ("Confirm the budget with finance", "Book rooms", "An unusually long task "
                  "title that goes on and on to see how a card wraps on a small screen"):
        quick_add(page, "To do", title)
    page.goto(f"/projects/{project_id}")
    expect(page.locator(".card")).to_have_count(3)
    no_sideways_overflow(page, "[data-board]")
    save_screenshot(page, "board-phone.png")

    # Every column's quick-add can be reached by swiping the board; a task added in the last
    # column lands there.
    for col in page.locator(".board-column[data-column-id]").all():
        reachable(page, col.locator("form.quick-add input[name=title]"))
        reachable(page, col.locator("form.quick-add button[type=submit]"))
    done = column(page, "Done")
    field = done.locator("form.quick-add input[name=title]")
    field.tap()
    field.fill("Celebrate")
    done.locator("form.quick-add button[type=submit]").tap()
    expect(done.locator(".card")).to_have_count(1)
    reachable(page, page.locator("form.add-column input[name=name]"))

    # The account menu opens inside the screen.
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(".topbar details.menu summary").tap()
    reachable(page, page.get_by_role("button", name="Sign out"))
    no_sideways_overflow(page, "[data-board]")

    page.goto("/projects")
    expect(page.locator(".project-card", has_text=name)).to_be_visible()
    no_sideways_overflow(page)
    save_screenshot(page, "projects-phone.png", full_page=True)
