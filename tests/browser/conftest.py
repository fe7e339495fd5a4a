"""Browser tests: headless Chromium (Playwright) against a real `tasklette serve` process.

The browser is Debian's Chromium at /usr/bin/chromium (or $TASKLETTE_CHROMIUM); Playwright
never downloads one. Without it the browser tests skip, unless TASKLETTE_REQUIRE_BROWSER=1
(as in CI), which makes a missing browser a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.live_server import LiveServer

CHROMIUM = Path(os.environ.get("TASKLETTE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
REQUIRE_BROWSER = os.environ.get("TASKLETTE_REQUIRE_BROWSER", "") not in ("", "0")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


USERNAME = "ada"
DISPLAY_NAME = "Ada Lovelace"
PASSWORD = "analytical engine 1843"

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


MISSING_BROWSER = (f"browser tests need Chromium at {CHROMIUM} "
                   "(apt-get install chromium, or set TASKLETTE_CHROMIUM)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Skipped from here, not from a fixture, so that the summary says it once.
    if not CHROMIUM.is_file() and not REQUIRE_BROWSER:
        pytest.skip(MISSING_BROWSER)


# The browser, the server and the sign-in are shared by the package's tests, and closed
# when they are done (not at the end of the session): while Playwright's sync API runs, its
# event loop counts as running in this thread, and the other tests' asyncio.run() would fail.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.is_file():
        pytest.fail(MISSING_BROWSER + "; TASKLETTE_REQUIRE_BROWSER is set", pytrace=False)
    shutil.rmtree(ARTIFACTS / "failures", ignore_errors=True)  # from an earlier run
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory,
                browser: Browser) -> Iterator[LiveServer]:
    """One server for the browser tests, with one account (ada), made by first-run setup."""
    server = LiveServer(tmp_path_factory.mktemp("browser-data")).start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        made = client.post("/setup", data={"username": USERNAME, "display_name": DISPLAY_NAME,
                                           "password": PASSWORD, "password_again": PASSWORD})
    assert made.status_code == 303, f"setup: {made.status_code} {made.text}"
    yield server
    server.stop()


@pytest.fixture
def empty_server(tmp_path_factory: pytest.TempPathFactory,
                 browser: Browser) -> Iterator[LiveServer]:
    """A server of its own with no users yet, for first-run setup."""
    server = LiveServer(tmp_path_factory.mktemp("empty-data")).start()
    yield server
    server.stop()


@dataclass
class PageProblems:
    """What went wrong inside the page: script errors and blocked resources (CSP)."""

    errors: list[str] = field(default_factory=list)

    def on_page_error(self, error: PlaywrightError) -> None:
        self.errors.append(f"uncaught script error: {error.message}")

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text
                                        or "Refused to" in text):
            self.errors.append(f"console: {text}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


def new_context(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    options.setdefault("viewport", {"width": 1280, "height": 800})
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def watched_page(context: BrowserContext, request: pytest.FixtureRequest,
                 server: LiveServer, path: str | None = None) -> Iterator[Page]:
    """A page of `context` (closed afterwards) whose script errors fail the test.

    When the test fails, a screenshot of the page goes to test-artifacts/failures/ and the
    end of the server's log to the report.
    """
    try:
        page = context.new_page()
        problems = PageProblems()
        page.on("pageerror", problems.on_page_error)
        page.on("console", problems.on_console)
        if path is not None:
            page.goto(path)
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            request.node.add_report_section("call", "tasklette serve log", server.log())
            shot = ARTIFACTS / "failures" / f"{_safe_name(request.node.nodeid)}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(PlaywrightError):
                page.screenshot(path=str(shot), full_page=True)
        assert not problems.errors, "the page reported problems:\n" + "\n".join(problems.errors)
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer,
         request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies: signed out)."""
    yield from watched_page(new_context(browser, live_server.url), request, live_server)


@pytest.fixture
def empty_page(browser: Browser, empty_server: LiveServer,
               request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page on a server that has no users yet."""
    yield from watched_page(new_context(browser, empty_server.url), request, empty_server)


@pytest.fixture(scope="package")
def session_state(browser: Browser, live_server: LiveServer) -> Any:
    """Cookies of one sign-in through the form, shared by the tests' fresh contexts.

    A test that signs out must sign in on its own page (see `sign_in`), not use this one.
    """
    context = new_context(browser, live_server.url)
    try:
        sign_in(context.new_page())
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def signed_in(browser: Browser, live_server: LiveServer, session_state: Any,
              request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh browser context signed in as ada, on /projects."""
    context = new_context(browser, live_server.url, storage_state=session_state)
    yield from watched_page(context, request, live_server, "/projects")


# --- helpers the tests share -----------------------------------------------------------


def sign_in(page: Page, username: str = USERNAME, password: str = PASSWORD) -> None:
    page.goto("/signin")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/projects$"))
    page.wait_for_load_state("load")


_project_names = iter(range(1, 10_000))


def unique(name: str) -> str:
    return f"{name} {next(_project_names)}"


def create_project(page: Page, name: str) -> int:
    """Create a project through the form on /projects; returns its id (now on its board)."""
    page.goto("/projects")
    page.get_by_role("textbox", name="New project").fill(name)
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    # The URL changes before the board's scripts run: typing at once would beat htmx.
    page.wait_for_load_state("load")
    return int(page.url.rsplit("/", 1)[1])


def api_get(page: Page, path: str) -> Any:
    """GET a JSON API path with the page's session cookie."""
    response = page.request.get(path)
    assert response.status == 200, f"GET {path}: {response.status} {response.text()}"
    return response.json()


def save_screenshot(page: Page, name: str, **options: Any) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), **options)
    return path
