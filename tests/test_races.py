"""Races that a single SQLite writer hides: many clients at once, real HTTP, both engines."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Server, User, add_member

PROJECTS = 20


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call in its own thread, released together; their responses in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [r for r in results if not isinstance(r, httpx.Response)]
    assert failures == []
    return results


def client_of(server: Server, user: User) -> httpx.Client:
    """A client of its own (httpx clients are not shared between threads here)."""
    return httpx.Client(base_url=server.base_url, timeout=60,
                        headers={"Authorization": f"Bearer {user.token}"})


def no_server_errors(responses: list[httpx.Response]) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    assert [r.text for r in responses if r.status_code >= 500] == []
    return statuses


# --- every project keeps an owner -------------------------------------------------------

def _demote(client: httpx.Client, pid: int, username: str) -> Callable[[], httpx.Response]:
    return lambda: client.patch(f"/api/v1/projects/{pid}/members/{username}",
                                json={"role": "editor"})


def _remove(client: httpx.Client, pid: int, username: str) -> Callable[[], httpx.Response]:
    return lambda: client.delete(f"/api/v1/projects/{pid}/members/{username}")


@pytest.mark.parametrize("alice_does, bob_does", [
    (_demote, _demote), (_remove, _remove), (_demote, _remove)])
def test_two_owners_demoting_or_removing_each_other_leave_an_owner(
        server: Server, make_user: Any, alice_does: Any, bob_does: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    pids = []
    for n in range(PROJECTS):
        pid = alice.client.post("/api/v1/projects", json={"name": f"Shared {n}"}).json()["id"]
        add_member(alice, pid, bob, "owner")
        pids.append(pid)
    with client_of(server, alice) as a, client_of(server, bob) as b:
        calls = []
        for pid in pids:
            calls += [alice_does(a, pid, bob.username), bob_does(b, pid, alice.username)]
        responses = at_once(calls)
    no_server_errors(responses)
    for pair in zip(responses[::2], responses[1::2], strict=True):
        # One wins; the other is refused, having lost its ownership (403), its membership
        # (404), or the last other owner (409): never both done.
        assert sorted(r.status_code < 300 for r in pair) == [False, True], pair
        refused = next(r for r in pair if r.status_code >= 300)
        assert refused.status_code in (403, 404, 409), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    marks = ", ".join("?" * len(pids))
    owned = server.sql(f"SELECT project_id, COUNT(*) AS n FROM project_members "
                       f"WHERE role = 'owner' AND project_id IN ({marks}) "
                       f"GROUP BY project_id", tuple(pids))
    assert {row["project_id"]: row["n"] for row in owned} == dict.fromkeys(pids, 1)


# --- a column is not deleted from under a task ------------------------------------------

ROUNDS = 12


def test_deleting_columns_while_tasks_are_created_and_moved_into_them(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    home = owner.client.get(f"/api/v1/projects/{pid}/columns").json()[0]["id"]
    movers = [owner.client.post(f"/api/v1/projects/{pid}/tasks",
                                json={"title": f"mover {n}", "column_id": home}).json()["id"]
              for n in range(4)]
    responses: list[httpx.Response] = []
    with client_of(server, owner) as client:
        for _ in range(ROUNDS):
            doomed = client.post(f"/api/v1/projects/{pid}/columns",
                                 json={"name": "Doomed"}).json()["id"]
            calls: list[Callable[[], httpx.Response]] = [
                lambda d=doomed: client.delete(f"/api/v1/columns/{d}")]
            calls += [lambda d=doomed, n=n: client.post(
                f"/api/v1/projects/{pid}/tasks", json={"title": f"new {n}", "column_id": d})
                for n in range(4)]
            calls += [lambda d=doomed, t=t: client.post(
                f"/api/v1/tasks/{t}/move", json={"column_id": d}) for t in movers]
            calls += [lambda d=doomed: client.delete(f"/api/v1/columns/{d}")]
            responses += at_once(calls)
            for task_id in movers:  # home again for the next round
                client.post(f"/api/v1/tasks/{task_id}/move", json={"column_id": home})
    statuses = no_server_errors(responses)
    assert set(statuses) <= {200, 201, 204, 404, 409, 422}, statuses
    for r in responses:
        if r.status_code in (409, 422) and r.request.method == "DELETE":
            assert "still holds" in r.json()["detail"], r.text
        elif r.status_code in (404, 409, 422):
            assert "column" in r.json()["detail"], r.text
    orphans = server.sql("SELECT COUNT(*) FROM tasks t WHERE t.project_id = ? AND "
                         "t.column_id IS NOT NULL AND NOT EXISTS "
                         "(SELECT 1 FROM columns c WHERE c.id = t.column_id)", (pid,))
    assert orphans[0][0] == 0
    # Each column's positions are whole, and every task created was answered 201.
    positions = server.sql("SELECT position FROM columns WHERE project_id = ? "
                           "ORDER BY position", (pid,))
    assert [row[0] for row in positions] == list(range(len(positions)))
    created = server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ? AND title LIKE "
                         "'new %'", (pid,))[0][0]
    assert created == sum(1 for r in responses
                          if r.request.method == "POST" and r.status_code == 201)
