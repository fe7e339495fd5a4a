"""Races that a single SQLite writer hides: many clients at once, real HTTP, both engines."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tasklette.storage.postgres import to_numbered
from tests.conftest import Server, User, add_member, eventually, run_sync
from tests.web.conftest import Browser

PROJECTS = 20


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call in its own thread, released together; their responses in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # reported by the assertion below
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


# --- deadlocks are retried below every surface ------------------------------------------

def _deadlock(server: Server, hold: str, hold_params: tuple[Any, ...], then: str,
              then_params: Callable[[], tuple[Any, ...]],
              request: Callable[[], httpx.Response]) -> httpx.Response:
    """Make `request` deadlock once against a transaction of the test's own.

    That transaction runs `hold`; the request starts and waits on it (an advisory lock
    its event takes); then `then` waits on the request, closing the cycle. PostgreSQL
    breaks the cycle by rolling back the request's transaction (ours waits far longer
    before it looks), as it would for two users at once; a retry then succeeds.
    """
    url = server.settings.database_url

    async def scenario() -> httpx.Response:
        conn = await asyncpg.connect(url)
        outcome: list[Any] = []
        try:
            await conn.execute("SET deadlock_timeout = '60s'")
            async with conn.transaction():
                await conn.execute(to_numbered(hold), *hold_params)
                thread = threading.Thread(target=lambda: outcome.append(request()))
                thread.start()
                for _ in range(500):
                    if await conn.fetchval(
                            "SELECT COUNT(*) FROM pg_locks WHERE NOT granted "
                            "AND locktype = 'advisory' AND pid <> pg_backend_pid() AND "
                            "database = (SELECT oid FROM pg_database "
                            "WHERE datname = current_database())"):
                        break
                    await asyncio.sleep(0.01)
                else:
                    raise AssertionError("the request never waited on the held lock")
                await conn.execute(to_numbered(then), *then_params())
                raise _Undo
        except _Undo:
            pass
        finally:
            await conn.close()
        await asyncio.to_thread(thread.join)
        return outcome[0]  # type: ignore[no-any-return]

    deadlocks = _deadlocks(server)
    response = run_sync(scenario())
    # There was one (ours could not go on before the request's transaction gave way),
    # and the request survived it. The statistics are written a moment later.
    eventually(lambda: _deadlocks(server) > deadlocks)
    return response


class _Undo(Exception):
    """Rolls the test's transaction back."""


def _deadlocks(server: Server) -> int:
    return int(server.sql("SELECT deadlocks FROM pg_stat_database "
                          "WHERE datname = current_database()")[0][0])


def _postgres_only(server: Server) -> None:
    if not server.settings.database_url:
        pytest.skip("SQLite has one writer: there is no deadlock to provoke")


def test_a_deadlocked_web_form_is_retried_and_succeeds(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    _postgres_only(server)
    pid = project["id"]
    column = owner.client.get(f"/api/v1/projects/{pid}/columns").json()[0]["id"]
    browser = Browser(server, owner)
    response = _deadlock(
        server, "SELECT pg_advisory_xact_lock(?::bigint)", (-2 * pid,),
        "SELECT id FROM columns WHERE id = ? FOR NO KEY UPDATE", lambda: (column,),
        lambda: browser.htmx("POST", f"/projects/{pid}/tasks",
                             data={"title": "Survives a deadlock", "column_id": column}))
    browser.close()
    assert response.status_code == 201, response.text
    rows = server.sql("SELECT COUNT(*) FROM tasks WHERE project_id = ? AND title = ?",
                      (pid, "Survives a deadlock"))
    assert rows[0][0] == 1
    events = server.sql("SELECT COUNT(*) FROM events WHERE project_id = ? AND "
                        "kind = 'task.created'", (pid,))
    assert events[0][0] == 1


def test_a_deadlocked_api_import_is_retried_without_reading_the_body_again(
        server: Server, owner: User) -> None:
    _postgres_only(server)
    csv = ("TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,"
           "TIMEZONE\r\nsection,Doing,,,,,,,,\r\ntask,Imported once,,1,1,,,,en,UTC\r\n")
    last, called = server.sql("SELECT last_value, is_called FROM projects_id_seq")[0]
    next_id = last + 1 if called else last
    response = _deadlock(
        # The import's project will take the next id; its event locks that project.
        server, "SELECT pg_advisory_xact_lock(?::bigint)", (-2 * next_id,),
        # Ours inserts the same id: it waits for the import's transaction to end.
        "INSERT INTO projects (id, name, description, archived, created_by, created_at, "
        "updated_at) VALUES (?, 'x', '', 0, ?, '', '')", lambda: (next_id, owner.id),
        lambda: owner.client.post("/api/v1/imports/todoist", content=csv.encode(),
                                  params={"project": "Deadlocked import"},
                                  headers={"content-type": "text/csv"}))
    assert response.status_code == 201, response.text
    imported = server.sql("SELECT id FROM projects WHERE name = 'Deadlocked import'")
    assert [row[0] for row in imported] == [response.json()["project_id"]]
    tasks = server.sql("SELECT title FROM tasks WHERE project_id = ?", (imported[0][0],))
    assert [row[0] for row in tasks] == ["Imported once"]


def test_every_service_function_that_writes_is_a_retried_unit() -> None:
    """A new service that opens a transaction without `@retried` would 500 on a deadlock
    from the web UI and the CLI (nothing above the services retries)."""
    import ast
    from pathlib import Path

    import tasklette.services

    unretried = []
    for path in Path(tasklette.services.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.AsyncFunctionDef):
                continue
            opens = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                        and n.func.attr == "transaction" for n in ast.walk(node))
            decorated = any(isinstance(d, ast.Name) and d.id == "retried"
                            for d in node.decorator_list)
            if opens and not decorated:
                unretried.append(f"{path.name}:{node.name}")
    assert unretried == []


# --- labels: linked while another writer deletes them ---------------------------------

def test_labels_attached_while_deleted_never_dangle(server: Server, make_user: Any) -> None:
    ana = make_user("ana")
    pid = ana.client.post("/api/v1/projects", json={"name": "Labels"}).json()["id"]
    task_ids = [ana.client.post(f"/api/v1/projects/{pid}/tasks", json={"title": f"t{n}"})
                .json()["id"] for n in range(4)]
    responses: list[httpx.Response] = []
    with client_of(server, ana) as a, client_of(server, ana) as b:
        for _ in range(15):
            label_id = a.post(f"/api/v1/projects/{pid}/labels",
                              json={"name": "doomed", "color": "#cc0000"}).json()["id"]
            calls: list[Callable[[], httpx.Response]] = [
                (lambda t=t, c=c, lid=label_id: c.put(f"/api/v1/tasks/{t}/labels/{lid}"))
                for t, c in zip(task_ids, (a, b, a, b), strict=True)]
            calls.insert(2, lambda lid=label_id: b.delete(f"/api/v1/labels/{lid}"))
            calls.append(lambda lid=label_id: a.post(f"/api/v1/projects/{pid}/tasks",
                                                     json={"title": "new", "label_ids": [lid]}))
            responses += at_once(calls)
    statuses = no_server_errors(responses)
    assert set(statuses) <= {200, 201, 204, 404, 422}, statuses
    dangling = server.sql("SELECT COUNT(*) FROM task_labels tl "
                          "LEFT JOIN labels l ON l.id = tl.label_id WHERE l.id IS NULL")
    assert dangling[0][0] == 0
