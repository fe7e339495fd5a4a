"""Walking a task list page by page with next_cursor, whatever the sort and the titles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import User

CURSOR_LIMIT = 1000  # TaskListQuery.cursor's max_length


def walk(user: User, project_id: int, sort: str, limit: int = 3) -> list[int]:
    """The ids of every page of the list, following next_cursor to the end."""
    seen: list[int] = []
    params: dict[str, Any] = {"sort": sort, "limit": limit}
    for _ in range(100):
        response = user.client.get(f"/api/v1/projects/{project_id}/tasks", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [task["id"] for task in page["items"]]
        if page["next_cursor"] is None:
            return seen
        assert len(page["next_cursor"]) <= CURSOR_LIMIT
        params["cursor"] = page["next_cursor"]
    raise AssertionError("the walk never ended")


@pytest.mark.parametrize("sort", ["title", "-title", "position", "-position", "created",
                                  "-created", "updated", "-updated", "due", "-due",
                                  "priority", "-priority"])
def test_long_non_ascii_titles_walk_every_task_once(owner: User, project: dict[str, Any],
                                                    sort: str) -> None:
    pid = project["id"]
    # 500 characters of 3 or 4 bytes each, sharing long prefixes (ties decided by id).
    titles = ["漢字かな交じり文" * 62 + "一", "漢字かな交じり文" * 62 + "二",
              "😀" * 500, "😀" * 499 + "a", "Ünïcödé " * 62, "ÉCOLE" * 100,
              "école" * 100, "“quoted” \\ \"" * 40, "short"]
    created = []
    for i, title in enumerate(titles):
        response = owner.client.post(f"/api/v1/projects/{pid}/tasks", json={
            "title": title[:500], "priority": ["none", "low", "high"][i % 3],
            "due_date": f"2031-05-{10 + i % 4}" if i % 2 else None})
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    for limit in (1, 2, 4):
        seen = walk(owner, pid, sort, limit)
        assert sorted(seen) == sorted(created), (limit, seen)  # each exactly once
    whole = owner.client.get(f"/api/v1/projects/{pid}/tasks",
                             params={"sort": sort, "limit": 200}).json()["items"]
    assert walk(owner, pid, sort, 2) == [task["id"] for task in whole]  # the same order
