"""Live event streams over real HTTP: delivery, replay, membership, presence, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tasklette.services import tokens
from tasklette.services.permissions import Actor
from tests.conftest import (
    BACKENDS,
    PASSWORD,
    POSTGRES_URL,
    Server,
    User,
    _admin,
    _insert_user,
    add_member,
    run_sync,
)
from tests.sse import Stream


@pytest.fixture
def streams() -> Iterator[Any]:
    opened: list[Stream] = []

    def open_stream(server: Server, user: User, path: str, **headers: str) -> Stream:
        stream = Stream(server.base_url + path,
                        {"Authorization": f"Bearer {user.token}", **headers})
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


def first_column(user: User, project_id: int) -> int:
    return user.client.get(f"/api/v1/projects/{project_id}/columns").json()[0]["id"]  # type: ignore[no-any-return]


def create_task(user: User, project_id: int, title: str, **fields: Any) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks",
                                json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_write_reaches_another_client_with_its_content_in_order(
        server: Server, owner: User, make_user: Any, project: dict[str, Any],
        streams: Any) -> None:
    ana = make_user("ana")
    add_member(owner, project["id"], ana, "editor")
    stream = streams(server, ana, f"/api/v1/projects/{project['id']}/events")
    assert stream.status == 200
    task = create_task(owner, project["id"], "Fix login")
    columns = owner.client.get(f"/api/v1/projects/{project['id']}/columns").json()
    moved = owner.client.post(f"/api/v1/tasks/{task['id']}/move",
                              json={"column_id": columns[2]["id"], "position": 0})
    assert moved.status_code == 200
    renamed = owner.client.patch(f"/api/v1/tasks/{task['id']}", json={
        "title": "Fix the login", "version": moved.json()["version"]})
    assert renamed.status_code == 200

    created, move, update = stream.events(3)
    assert [created.event, move.event, update.event] == ["task.created", "task.moved",
                                                         "task.updated"]
    assert created.id is not None and created.id < move.id < update.id  # type: ignore[operator]
    assert created.data["payload"]["task"]["title"] == "Fix login"
    assert created.data["actor_id"] == owner.id
    assert move.data["payload"]["task"]["column_id"] == columns[2]["id"]
    assert move.data["payload"]["from"]["column_id"] == columns[0]["id"]
    assert update.data["payload"]["task"]["title"] == "Fix the login"
    assert update.data["payload"]["changes"] == ["title"]
    # The ids are the events table's ids.
    stored = server.sql("SELECT id, kind FROM events WHERE task_id = ? ORDER BY id", (task["id"],))
    assert [(row["id"], row["kind"]) for row in stored] == \
        [(f.id, f.event) for f in (created, move, update)]


def test_reconnecting_with_last_event_id_replays_exactly_what_was_missed(
        server: Server, owner: User, project: dict[str, Any], streams: Any) -> None:
    path = f"/api/v1/projects/{project['id']}/events"
    first = streams(server, owner, path)
    create_task(owner, project["id"], "Seen")
    (seen,) = first.events(1)
    first.close()

    missed = [create_task(owner, project["id"], f"Missed {n}") for n in range(5)]

    again = streams(server, owner, path, **{"Last-Event-ID": str(seen.id)})
    replayed = again.events(5)
    assert [f.data["payload"]["task"]["id"] for f in replayed] == [t["id"] for t in missed]
    assert [f.id for f in replayed] == sorted(f.id for f in replayed)  # type: ignore[type-var]
    # Then the live tail, with nothing repeated.
    live = create_task(owner, project["id"], "Live")
    (after,) = again.events(1)
    assert after.data["payload"]["task"]["id"] == live["id"]
    assert again.quiet(0.3) == []


def test_after_query_replays_and_header_wins_over_it(
        server: Server, owner: User, project: dict[str, Any], streams: Any) -> None:
    tasks = [create_task(owner, project["id"], f"T{n}") for n in range(3)]
    ids = [row["id"] for row in server.sql(
        "SELECT id FROM events WHERE kind = 'task.created' AND project_id = ? ORDER BY id",
        (project["id"],))]
    by_query = streams(server, owner, f"/api/v1/projects/{project['id']}/events?after={ids[0]}")
    assert [f.data["entity_id"] for f in by_query.events(2)] == [t["id"] for t in tasks[1:]]
    by_header = streams(server, owner, f"/api/v1/projects/{project['id']}/events?after=0",
                        **{"Last-Event-ID": str(ids[1])})
    assert [f.data["entity_id"] for f in by_header.events(1)] == [tasks[2]["id"]]
    assert by_header.quiet(0.3) == []


def test_without_a_cursor_only_new_events_arrive(
        server: Server, owner: User, project: dict[str, Any], streams: Any) -> None:
    create_task(owner, project["id"], "Before")
    stream = streams(server, owner, f"/api/v1/projects/{project['id']}/events")
    assert stream.quiet(0.3) == []
    create_task(owner, project["id"], "After")
    (frame,) = stream.events(1)
    assert frame.data["payload"]["task"]["title"] == "After"


def test_a_non_member_gets_404_and_nothing(
        server: Server, owner: User, make_user: Any, project: dict[str, Any],
        streams: Any) -> None:
    eve = make_user("eve")
    stream = streams(server, eve, f"/api/v1/projects/{project['id']}/events?after=0")
    assert stream.status == 404
    assert b"project not found" in stream.body
    assert stream.next(2) is None  # ended, no frames
    missing = streams(server, eve, "/api/v1/projects/999999/events?after=0")
    assert (missing.status, missing.body) == (404, stream.body)  # nothing to tell them apart
    unsigned = Stream(server.base_url + f"/api/v1/projects/{project['id']}/events")
    assert unsigned.status == 401
    unsigned.close()


def test_bad_cursors_get_a_clear_422(server: Server, owner: User, project: dict[str, Any],
                                     streams: Any) -> None:
    path = f"/api/v1/projects/{project['id']}/events"
    by_header = streams(server, owner, path, **{"Last-Event-ID": "abc"})
    assert by_header.status == 422
    assert b"Last-Event-ID" in by_header.body
    by_query = streams(server, owner, path + "?after=-1")
    assert by_query.status == 422


def test_a_removed_members_stream_ends(server: Server, owner: User, make_user: Any,
                                       project: dict[str, Any], streams: Any) -> None:
    ben = make_user("ben")
    add_member(owner, project["id"], ben, "viewer")
    path = f"/api/v1/projects/{project['id']}/events"
    stream = streams(server, ben, path)
    removed = owner.client.delete(f"/api/v1/projects/{project['id']}/members/{ben.username}")
    assert removed.status_code == 204
    closed = stream.until("stream.closed")
    assert "no longer a member" in closed.data["reason"]
    assert stream.next(5) is None  # the stream ended
    create_task(owner, project["id"], "Secret")
    assert streams(server, ben, path).status == 404


def test_each_project_gets_only_its_own_events(
        server: Server, owner: User, project: dict[str, Any], streams: Any) -> None:
    other = owner.client.post("/api/v1/projects", json={"name": "Other"}).json()
    stream = streams(server, owner, f"/api/v1/projects/{project['id']}/events")
    create_task(owner, other["id"], "Elsewhere")
    mine = create_task(owner, project["id"], "Here")
    (frame,) = stream.events(1)
    assert frame.data["entity_id"] == mine["id"]
    assert stream.quiet(0.3) == []


def test_presence_lists_who_views_the_board(server: Server, owner: User, make_user: Any,
                                            project: dict[str, Any], streams: Any) -> None:
    ana = make_user("ana")
    add_member(owner, project["id"], ana, "editor")
    path = f"/api/v1/projects/{project['id']}/events?presence=true"
    mine = streams(server, owner, path)
    assert mine.until("presence").data["user_ids"] == [owner.id]
    hers = streams(server, ana, path)
    assert hers.until("presence").data["user_ids"] == sorted([owner.id, ana.id])
    assert mine.until("presence").data["user_ids"] == sorted([owner.id, ana.id])
    hers.close()
    assert mine.until("presence").data["user_ids"] == [owner.id]


def test_the_user_stream_carries_my_notifications_only(
        server: Server, owner: User, make_user: Any, project: dict[str, Any],
        streams: Any) -> None:
    ana = make_user("ana")
    mine = streams(server, ana, "/api/v1/me/events")
    add_member(owner, project["id"], ana, "editor")
    added = mine.until("member.added")
    assert added.data["payload"]["member"]["id"] == ana.id
    create_task(owner, project["id"], "Not hers")
    hers = create_task(owner, project["id"], "Hers", assignees=[ana.username])
    (assigned,) = mine.events(1)
    assert assigned.event == "task.created"
    assert assigned.data["entity_id"] == hers["id"]
    comment = owner.client.post(f"/api/v1/tasks/{hers['id']}/comments", json={"body": "Look"})
    assert comment.status_code == 201
    (commented,) = mine.events(1)
    assert commented.event == "comment.created"
    # Her own changes are not notifications to herself.
    ana.client.post(f"/api/v1/tasks/{hers['id']}/comments", json={"body": "Done"})
    assert mine.quiet(0.3) == []
    # Replay after a reconnect: the same notifications, nothing else.
    replay = streams(server, ana, "/api/v1/me/events?after=0")
    assert [f.event for f in replay.events(3)] == ["member.added", "task.created",
                                                   "comment.created"]
    assert replay.quiet(0.3) == []


def test_unassigning_someone_tells_them(server: Server, owner: User, make_user: Any,
                                        project: dict[str, Any], streams: Any) -> None:
    ana = make_user("ana")
    add_member(owner, project["id"], ana, "editor")
    task = create_task(owner, project["id"], "Hers", assignees=[ana.username])
    mine = streams(server, ana, "/api/v1/me/events")
    changed = owner.client.patch(f"/api/v1/tasks/{task['id']}",
                                 json={"assignees": [], "version": task["version"]})
    assert changed.status_code == 200
    (frame,) = mine.events(1)
    assert frame.data["payload"]["unassigned_ids"] == [ana.id]


def test_stopping_the_server_closes_streams_with_a_farewell(
        tmp_path: Any, streams: Any) -> None:
    server = Server(tmp_path).start()
    try:
        row = server.call(_insert_user(server, "solo"))
        _, secret = server.call(tokens.create(server.db, Actor(row["id"], "solo"), "t"))
        solo = User(row["id"], "solo", secret, None)  # type: ignore[arg-type]
        stream = streams(server, solo, "/api/v1/me/events")
    finally:
        server.stop()
    closed = stream.until("stream.closed")
    assert closed.data["reason"] == "the server is shutting down"
    assert stream.next(5) is None


def test_heartbeats_keep_an_idle_stream_open_and_recheck_membership(
        tmp_path: Any, streams: Any) -> None:
    server = Server(tmp_path, stream_heartbeat_seconds=1).start()
    try:
        row = server.call(_insert_user(server, "hb"))
        _, secret = server.call(tokens.create(server.db, Actor(row["id"], "hb"), "t"))
        with httpx.Client(base_url=server.base_url,
                          headers={"Authorization": f"Bearer {secret}"}) as client:
            project = client.post("/api/v1/projects", json={"name": "P"}).json()
        user = User(row["id"], "hb", secret, None)  # type: ignore[arg-type]
        stream = streams(server, user, f"/api/v1/projects/{project['id']}/events")
        heartbeat = stream.next(3)
        while heartbeat is not None and not heartbeat.comment:
            heartbeat = stream.next(3)
        assert heartbeat is not None and heartbeat.data == "heartbeat"
        # A membership that ends without an event (e.g. edited in the database) is
        # noticed at the next heartbeat.
        with sqlite3.connect(server.settings.database_path) as conn:
            conn.execute("DELETE FROM project_members WHERE user_id = ?", (row["id"],))
        assert "no longer a member" in stream.until("stream.closed", 4).data["reason"]
    finally:
        server.stop()


def test_concurrent_writers_reach_a_stream_in_id_order_and_replay_matches(
        server: Server, owner: User, project: dict[str, Any], streams: Any) -> None:
    path = f"/api/v1/projects/{project['id']}/events"
    live = streams(server, owner, path)
    column = first_column(owner, project["id"])

    def write(n: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {owner.token}"}) as client:
            for m in range(4):
                response = client.post(f"/api/v1/projects/{project['id']}/tasks",
                                       json={"title": f"w{n}-{m}", "column_id": column})
                assert response.status_code == 201, response.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    received = [f.id for f in live.events(32, timeout=10)]
    assert received == sorted(received)
    stored = [row["id"] for row in server.sql(
        "SELECT id FROM events WHERE project_id = ? AND kind = 'task.created' ORDER BY id",
        (project["id"],))]
    assert received == stored
    replay = streams(server, owner, path + "?after=0")
    replayed = [f.id for f in replay.events(33)][1:]  # after project.created
    assert replayed == stored


def test_streams_opened_and_dropped_leave_no_subscriber_and_no_presence(
        server: Server, owner: User, project: dict[str, Any], streams: Any) -> None:
    """1,000 streams: HEADs, GETs dropped before the first byte, GETs dropped after it.
    Afterwards the broker holds none of them and nobody shows as present."""
    path = f"/api/v1/projects/{project['id']}/events?presence=true"
    request = ("{method} " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Bearer {owner.token}\r\n\r\n")

    async def one(n: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request.format(method="HEAD" if n % 3 == 0 else "GET").encode())
            await writer.drain()
            if n % 3 != 1:  # a HEAD answer, or a stream's first bytes
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def open_and_drop() -> None:
        gate = asyncio.Semaphore(50)
        await asyncio.gather(*(one(n, gate) for n in range(1000)))

    run_sync(open_and_drop())

    async def held() -> int:
        return server.app.state.broker.subscriber_count()  # type: ignore[no-any-return]

    deadline = time.monotonic() + 10
    while server.call(held()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.call(held()) == 0
    watcher = streams(server, owner, f"/api/v1/projects/{project['id']}/events")
    assert watcher.until("presence").data["user_ids"] == []


def closed_within(stream: Stream, seconds: float) -> str:
    """The reason of the stream's stream.closed frame, which must come within `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = stream.next(left)
        except TimeoutError:
            break
        if frame is None:
            raise AssertionError("the stream ended without a stream.closed frame")
        if frame.event == "stream.closed":
            return str(frame.data["reason"])
    raise AssertionError(f"the stream was still open after {seconds}s")


@pytest.fixture(params=BACKENDS)
def quick_heartbeats(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Server]:
    """A server of each engine whose streams beat (and are re-checked) every second."""
    if request.param == "sqlite":
        server = Server(tmp_path, stream_heartbeat_seconds=1).start()
        yield server
        server.stop()
        return
    name = f"tasklette_beats_{os.getpid()}_{next(_beats)}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        server = Server(tmp_path, stream_heartbeat_seconds=1,
                        database_url=POSTGRES_URL.rsplit("/", 1)[0] + "/" + name).start()
        yield server
        server.stop()
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_beats = itertools.count(1)


def test_a_revoked_token_ends_its_streams_within_a_heartbeat(
        quick_heartbeats: Server, streams: Any) -> None:
    server = quick_heartbeats
    row = server.call(_insert_user(server, "rev"))
    actor = Actor(row["id"], "rev")
    token, secret = server.call(tokens.create(server.db, actor, "t"))
    _, other = server.call(tokens.create(server.db, actor, "kept"))
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {secret}"}) as client:
        project = client.post("/api/v1/projects", json={"name": "P"}).json()
    user = User(row["id"], "rev", secret, None)  # type: ignore[arg-type]
    kept = User(row["id"], "rev", other, None)  # type: ignore[arg-type]
    board = streams(server, user, f"/api/v1/projects/{project['id']}/events")
    mine = streams(server, user, "/api/v1/me/events")
    still = streams(server, kept, f"/api/v1/projects/{project['id']}/events")
    board.until("presence")
    server.call(tokens.revoke(server.db, actor, token["id"]))
    for stream in (board, mine):
        assert "revoked" in closed_within(stream, 2.5)
        assert stream.next(2) is None
    # A stream on another token of the same user stays open.
    assert still.until("presence").data is not None
    assert not still.ended
    assert still.next(2) is not None and not still.ended


@pytest.mark.parametrize("how", ["sign out", "idle past the timeout"])
def test_an_ended_session_ends_its_streams_within_a_heartbeat(
        quick_heartbeats: Server, how: str) -> None:
    server = quick_heartbeats
    row = server.call(_insert_user(server, "out"))
    _, secret = server.call(tokens.create(server.db, Actor(row["id"], "out"), "t"))
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {secret}"}) as client:
        project = client.post("/api/v1/projects", json={"name": "P"}).json()
    with httpx.Client(base_url=server.base_url, timeout=30,
                      headers={"Sec-Fetch-Site": "same-origin"}) as browser:
        signed_in = browser.post("/signin", data={"username": "out", "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
        stream = Stream(f"{server.base_url}/api/v1/projects/{project['id']}/events",
                        {"Cookie": cookie})
        try:
            assert stream.status == 200
            stream.until("presence")
            assert stream.next(1.5) is not None and not stream.ended  # a heartbeat passes
            if how == "sign out":
                assert browser.post("/signout").status_code == 303
            else:
                server.call(_last_seen_long_ago(server))
            assert "signed out" in closed_within(stream, 2.5)
            assert stream.next(2) is None
        finally:
            stream.close()


async def _last_seen_long_ago(server: Server) -> None:
    async with server.db.transaction() as tx:
        await tx.execute("UPDATE sessions SET last_seen_at = ?",
                         ("2000-01-01T00:00:00.000000Z",))
