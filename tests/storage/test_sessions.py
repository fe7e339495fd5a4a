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
