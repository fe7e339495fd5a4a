"""Fixtures for the web UI: users signed in through the real sign-in form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, User


class Browser:
    """An httpx client that behaves like a browser tab of a signed-in user."""

    def __init__(self, server: Server, user: User) -> None:
        self.user = user
        self.client = httpx.Client(base_url=server.base_url, timeout=30,
                                   headers={"Sec-Fetch-Site": "same-origin"})
        response = self.client.post("/signin", data={
            "username": user.username, "password": "correct horse battery"})
        assert response.status_code == 303, response.text
        self.csrf_token = ""

    def page(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None,
             **kwargs: Any) -> httpx.Response:
        return self.client.post(path, data=data or {}, **kwargs)

    def htmx(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"HX-Request": "true", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def browse(server: Server, make_user: Any) -> Iterator[Any]:
    """browse(user=None) -> Browser signed in as `user` (a new user by default)."""
    opened: list[Browser] = []

    def open_(user: User | None = None) -> Browser:
        browser = Browser(server, user or make_user("web"))
        opened.append(browser)
        return browser

    yield open_
    for browser in opened:
        browser.close()
