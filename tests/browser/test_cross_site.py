"""A form on another site that posts to Tasklette is refused, though the user is signed in."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, api_get


class AttackerSite:
    """A tiny web server on another origin whose page auto-submits a form to Tasklette."""

    def __init__(self, kind: str, host: str, target: str) -> None:
        self.kind = kind
        page = f"""<!doctype html>
<html><head><title>Win a prize</title></head><body>
<form id="forged" method="post" action="{html.escape(target)}">
  <input type="hidden" name="name" value="Forged">
  <button type="submit">Claim your prize</button>
</form>
<script>document.getElementById("forged").submit();</script>
</body></html>""".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.origin = f"http://{host}:{self.httpd.server_address[1]}"
        self.url = self.origin + "/prize"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(params=["same-site", "cross-site"])
def attacker(request: pytest.FixtureRequest, live_server: LiveServer) -> Iterator[AttackerSite]:
    # 127.0.0.1 on another port is another origin of the same site, so the browser still
    # sends the SameSite=Lax session cookie: only the CSRF check stands in the way.
    # 127.0.0.2 is another site altogether.
    host = "127.0.0.1" if request.param == "same-site" else "127.0.0.2"
    site = AttackerSite(request.param, host, live_server.url + "/projects")
    yield site
    site.close()


def test_a_cross_site_form_post_is_refused(signed_in: Page, attacker: AttackerSite,
                                          live_server: LiveServer) -> None:
    page = signed_in
    assert "Forged" not in [p["name"] for p in api_get(page, "/api/v1/projects")]

    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url == live_server.url + "/projects") as posted:
        page.goto(attacker.url)
    response = posted.value
    assert response.status == 403, f"the forged post got {response.status}"
    sent = response.request.all_headers()
    assert sent["sec-fetch-site"] == attacker.kind
    assert sent["origin"] == attacker.origin
    if attacker.kind == "same-site":
        # The browser did send the session cookie: only the CSRF check refused the post.
        assert "tasklette_session=" in sent.get("cookie", "")
    expect(page.locator("body")).to_contain_text("refused")

    # The user is still signed in, and no project was made.
    page.goto(live_server.url + "/projects")
    expect(page).to_have_url(live_server.url + "/projects")
    expect(page.get_by_role("heading", name="Forged")).to_have_count(0)
    assert "Forged" not in [p["name"] for p in api_get(page, "/api/v1/projects")]
