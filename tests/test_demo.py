"""The demo board: created through the services, checked through the HTTP API and the CLI."""

from __future__ import annotations

import datetime
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklette import demo
from tasklette.services import tokens, users
from tasklette.services.permissions import Actor
from tests.conftest import Server

PASSWORD = "demo-password-123"
_owners = itertools.count(1)


def unique_owner() -> str:
    return f"demoowner{next(_owners)}-{uuid.uuid4().hex[:8]}"


def run_demo(server: Server, owner: str) -> tuple[str, list[int]]:
    calls: list[int] = []
    summary = server.call(demo.create(server.db, owner, PASSWORD, calls.append))
    return summary, calls


@pytest.fixture
def client_for(server: Server) -> Iterator[Any]:
    """An HTTP client with a fresh API token of the named user."""
    clients: list[httpx.Client] = []

    def make(username: str) -> httpx.Client:
        row = server.call(users.by_username(server.db, username))
        actor = Actor(row["id"], row["username"], row["display_name"])
        _, secret = server.call(tokens.create(server.db, actor, "t"))
        client = httpx.Client(base_url=server.base_url, timeout=30,
                              headers={"Authorization": f"Bearer {secret}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def get(client: httpx.Client, url: str, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_demo_creates_a_realistic_board(server: Server, client_for: Any) -> None:
    owner = unique_owner()
    summary, calls = run_demo(server, owner)

    assert calls == [1] * demo.STEPS
    client = client_for(owner)
    mine = [p for p in get(client, "/api/v1/projects") if p["name"] == demo.PROJECT_NAME]
    assert len(mine) == 1
    project = mine[0]
    pid = project["id"]
    assert project["role"] == "owner"
    assert f"(id {pid})" in summary and owner in summary and "tasklette token create" in summary

    # Members and their roles.
    members = {m["username"]: m["role"] for m in get(client, f"/api/v1/projects/{pid}/members")}
    assert members[owner] == "owner"
    assert {"ana", "ben", "chloe", "dev"} <= set(members)
    assert list(members.values()).count("viewer") == 1
    assert list(members.values()).count("editor") >= 2

    # Columns, with Review before Done.
    names = [c["name"] for c in get(client, f"/api/v1/projects/{pid}/columns")]
    assert names == ["To do", "In progress", "Review", "Done"]

    # Labels with their colours.
    labels = {lb["name"]: lb["color"] for lb in get(client, f"/api/v1/projects/{pid}/labels")}
    assert len(labels) >= 6
    assert labels["bug"] == "#e5484d" and labels["feature"] == "#3e63dd"

    # Tasks: top level, then all (with subtasks).
    top = get(client, f"/api/v1/projects/{pid}/tasks", limit=200)
    assert top["next_cursor"] is None
    tasks = top["items"]
    assert 25 <= len(tasks) <= 40
    everything = get(client, f"/api/v1/projects/{pid}/tasks", limit=200, parent="any")["items"]
    subtasks = [t for t in everything if t["parent_task_id"] is not None]
    assert len(subtasks) >= 6
    parents = {t["parent_task_id"] for t in subtasks}
    assert 3 <= len(parents) <= 4
    assert any(t["completed"] for t in subtasks) and not all(t["completed"] for t in subtasks)
    with_subtasks = [t for t in tasks if t["subtask_count"]]
    assert len(with_subtasks) == len(parents)
    assert any(0 < t["subtasks_completed"] < t["subtask_count"] for t in with_subtasks)

    # Realistic content: labels, assignees, priorities, Markdown descriptions.
    assert sum(1 for t in tasks if t["labels"]) >= 20
    assignees = {a["username"] for t in tasks for a in t["assignees"]}
    assert len(assignees) >= 3
    assert len({t["priority"] for t in tasks}) >= 4
    assert any("- [ ]" in t["description"] for t in tasks)
    assert any("```" in t["description"] for t in tasks)
    assert any("](http" in t["description"] for t in tasks)

    # Dates relative to today: overdue, this week, next month; completed tasks in Done.
    today = datetime.date.today()
    done_column = next(c["id"] for c in get(client, f"/api/v1/projects/{pid}/columns")
                       if c["name"] == "Done")
    overdue = get(client, f"/api/v1/projects/{pid}/tasks", limit=200, completed="false",
                  due_before=today.isoformat())["items"]
    assert len(overdue) >= 3
    dues = [datetime.date.fromisoformat(t["due_date"]) for t in tasks if t["due_date"]]
    assert any(0 <= (d - today).days <= 7 for d in dues)
    assert any(25 <= (d - today).days <= 60 for d in dues)
    for t in tasks:
        if t["start_date"] and t["due_date"]:
            assert t["start_date"] <= t["due_date"]
    completed = [t for t in tasks if t["completed"]]
    assert len(completed) >= 3
    assert all(t["column_id"] == done_column for t in completed)
    assert all(t["completed_at"] for t in completed)

    # Comments by several members, with Markdown.
    commented = [t for t in tasks if t["comment_count"]]
    assert sum(t["comment_count"] for t in commented) >= 10
    authors = set()
    bodies = []
    for t in commented:
        for comment in get(client, f"/api/v1/tasks/{t['id']}/comments"):
            authors.add(comment["author_username"])
            bodies.append(comment["body"])
    assert len(authors) >= 3
    assert any("```" in body for body in bodies)

    # Everything went through the services, so the activity log tells the story.
    activity = get(client, f"/api/v1/projects/{pid}/activity", limit=200)["items"]
    kinds = {e["kind"] for e in activity}
    assert {"project.created", "member.added", "label.created", "task.created",
            "comment.created"} <= kinds
    assert len({e["actor_username"] for e in activity}) >= 3

    # A teammate sees the project too, in their role.
    viewer = client_for("dev")
    assert any(p["id"] == pid and p["role"] == "viewer"
               for p in get(viewer, "/api/v1/projects"))


def test_demo_twice_creates_two_projects_and_reuses_users(server: Server,
                                                          client_for: Any) -> None:
    owner = unique_owner()
    first, _ = run_demo(server, owner)
    ana_id = server.call(users.by_username(server.db, "ana"))["id"]
    second, calls = run_demo(server, owner)

    assert len(calls) == demo.STEPS
    assert first != second
    assert "Existing users" in second and owner in second.split("Existing users")[1]
    assert server.call(users.by_username(server.db, "ana"))["id"] == ana_id
    assert len(server.sql("SELECT id FROM users WHERE username = ?", ("ana",))) == 1

    projects = [p for p in get(client_for(owner), "/api/v1/projects")
                if p["name"] == demo.PROJECT_NAME]
    assert len(projects) == 2
    assert projects[0]["id"] != projects[1]["id"]
    assert projects[0]["task_count"] == projects[1]["task_count"]


def test_demo_with_a_teammate_as_owner(server: Server, client_for: Any) -> None:
    summary, calls = run_demo(server, "chloe")

    assert len(calls) == demo.STEPS
    pid = int(summary.split("(id ")[1].split(")")[0])
    client = client_for("chloe")
    members = {m["username"]: m["role"]
               for m in get(client, f"/api/v1/projects/{pid}/members")}
    assert members["chloe"] == "owner"
    assert members["ana"] == "editor" and members["dev"] == "viewer"
    tasks = get(client, f"/api/v1/projects/{pid}/tasks", limit=200)["items"]
    assert len(tasks) >= 25


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLETTE_")}
    return subprocess.run(
        [sys.executable, "-m", "tasklette", "demo", "--data-dir", str(tmp_path / "data"),
         *args], capture_output=True, text=True, timeout=120, env=env)


def test_demo_command(tmp_path: Path) -> None:
    result = _cli(tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Created project 'Website relaunch' (id 1) owned by demo" in result.stdout
    assert "password 'demo-password'" in result.stdout
    assert "tasklette token create demo" in result.stdout

    again = _cli(tmp_path, "--owner", "ana", "--password", "another-password")
    assert again.returncode == 0, again.stderr
    assert "(id 2) owned by ana" in again.stdout
    assert "Existing users ana, ben, chloe, dev were reused" in again.stdout


def test_demo_command_reports_a_bad_password_cleanly(tmp_path: Path) -> None:
    result = _cli(tmp_path, "--password", "short")

    assert result.returncode == 1
    assert "Error: a password needs at least 8 characters" in result.stderr
    assert "Traceback" not in result.stderr
