"""Sign-in attempts are counted with one atomic statement, on both engines."""

from __future__ import annotations

import asyncio

from tasklette.storage import sessions as store
from tests.conftest import Server

LONG_AGO = "2000-01-01T00:00:00.000000Z"


def test_simultaneous_attempts_for_one_key_are_all_counted_without_collision(
        server: Server) -> None:
    # Twenty transactions at the very same moment, for a key not seen before: on
    # PostgreSQL a read-then-insert lets several insert the same key (a primary-key
    # violation); one upsert cannot.
    async def attempts() -> list[object]:
        async def one() -> object:
            async with server.db.transaction() as tx:
                return await store.take_attempt(tx, "user:collide", 50, LONG_AGO)
        return await asyncio.gather(*(one() for _ in range(20)), return_exceptions=True)

    outcomes = server.call(attempts())
    assert [type(outcome).__name__ for outcome in outcomes] == ["int"] * 20
    assert sorted(outcomes) == list(range(1, 21))  # type: ignore[type-var]
    assert server.sql("SELECT failures FROM sign_in_failures WHERE key = 'user:collide'"
                      )[0][0] == 20


def test_attempts_stop_at_the_limit_until_the_window_ends(server: Server) -> None:
    async def attempts(key: str, window_start_after: str, count: int) -> list[int | None]:
        async def one() -> int | None:
            async with server.db.transaction() as tx:
                return await store.take_attempt(tx, key, 5, window_start_after)
        return await asyncio.gather(*(one() for _ in range(count)))

    taken = server.call(attempts("addr:limit", LONG_AGO, 12))
    assert sorted(n for n in taken if n is not None) == [1, 2, 3, 4, 5]
    assert taken.count(None) == 7
    # Once the window has passed, counting starts again from one.
    later = server.call(attempts("addr:limit", "2999-01-01T00:00:00.000000Z", 1))
    assert later == [1]


def test_purge_deletes_only_what_has_ended(server: Server) -> None:
    from datetime import timedelta

    from tasklette.clock import now_iso
    from tasklette.services import sessions
    from tests.conftest import _insert_user

    user = server.call(_insert_user(server, "purged"))

    async def plant() -> None:
        async with server.db.transaction() as tx:
            for id_hash, seen in (("purge-idle", LONG_AGO), ("purge-live", now_iso())):
                await tx.execute(
                    "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, "
                    "last_seen_at) VALUES (?, ?, 'x', ?, ?)", (id_hash, user["id"], seen, seen))
            for key, started in (("user:purge-old", LONG_AGO), ("user:purge-new", now_iso())):
                await tx.execute("INSERT INTO sign_in_failures (key, failures, "
                                 "window_started_at) VALUES (?, 1, ?)", (key, started))

    server.call(plant())
    ended, counts = server.call(sessions.purge(server.db, timedelta(days=14)))
    assert ended >= 1 and counts >= 1
    left = {row[0] for row in server.sql("SELECT id_hash FROM sessions")}
    assert "purge-live" in left and "purge-idle" not in left
    keys = {row[0] for row in server.sql("SELECT key FROM sign_in_failures")}
    assert "user:purge-new" in keys and "user:purge-old" not in keys
