"""Rendered Markdown is cached within a budget of bytes, however long the texts are."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tasklette.services import tokens
from tasklette.services.permissions import Actor
from tasklette.web.markdown import RenderCache, render
from tests.conftest import Server, User, _insert_user
from tests.web.conftest import Browser

BUDGET = 1_048_576


def long_text(i: int, chars: int = 90_000) -> str:
    return f"# Note {i}\n\n" + ("word " * (chars // 5))


def test_the_cache_holds_at_most_its_budget_of_bytes() -> None:
    cache = RenderCache(BUDGET)
    for i in range(60):  # 60 texts of 60,000 characters: over 7 MB were they all kept
        html = cache.render(long_text(i, 60_000))
        assert html == render(long_text(i, 60_000))
        assert cache.bytes <= BUDGET
    assert 1 < len(cache) < 60
    # The last shown are kept, the oldest went first.
    assert long_text(59, 60_000) in cache and long_text(0, 60_000) not in cache
    assert cache.render(long_text(59, 60_000)) is cache.render(long_text(59, 60_000))


def test_recently_used_entries_stay() -> None:
    cache = RenderCache(10 * (sys.getsizeof("x" * 1000) * 3 + 100))
    kept = cache.render("**kept** " + "x" * 1000)
    for i in range(40):
        cache.render(f"other {i} " + "y" * 1000)
        assert cache.render("**kept** " + "x" * 1000) is kept  # used again, so it stays
        assert cache.bytes <= cache.max_bytes
    assert "other 0 " + "y" * 1000 not in cache


def test_one_huge_text_does_not_empty_the_cache() -> None:
    cache = RenderCache(BUDGET)
    small = cache.render("*small*")
    huge = cache.render(long_text(1, 400_000))
    assert "<h1>Note 1</h1>" in huge
    assert cache.render("*small*") is small and len(cache) == 1


def test_the_server_keeps_to_its_setting(tmp_path: Path) -> None:
    server = Server(tmp_path, markdown_cache_bytes=BUDGET).start()
    try:
        row = server.call(_insert_user(server, "reader"))
        actor = Actor(row["id"], row["username"], row["display_name"])
        _, secret = server.call(tokens.create(server.db, actor, "tests"))
        with httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"authorization": f"Bearer {secret}"}) as api:
            tab = Browser(server, User(row["id"], row["username"], secret, api))
            pid = api.post("/api/v1/projects", json={"name": "Notes"}).json()["id"]
            for i in range(20):
                task = api.post(f"/api/v1/projects/{pid}/tasks", json={
                    "title": f"Note {i}", "description": long_text(i)}).json()
                page = tab.page(f"/tasks/{task['id']}")
                assert page.status_code == 200 and "<h1>Note" in page.text
                assert server.app.state.markdown.bytes <= BUDGET
            assert 1 < len(server.app.state.markdown) < 20
            tab.close()
    finally:
        server.stop()
