"""The sign-in throttle holds when many guesses arrive at once (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import httpx

from tasklette.services.sessions import MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS
from tests.conftest import PASSWORD, Server, run_sync

# uvicorn takes the client address from X-Forwarded-For when the peer is 127.0.0.1,
# as it does behind a local reverse proxy: each test guesses from addresses of its own.
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))
_networks = (f"203.0.113.{n}" for n in itertools.count(1))


async def _guesses(server: Server, attempts: list[tuple[str, str, str]]) -> Counter[int]:
    """Post all (username, password, address) sign-ins at the same moment."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=100)) as client:
        start = asyncio.Event()

        async def one(username: str, password: str, address: str) -> int:
            await start.wait()
            response = await client.post(
                "/signin", data={"username": username, "password": password},
                headers={"X-Forwarded-For": address, "Sec-Fetch-Site": "same-origin"})
            return response.status_code

        tasks = [asyncio.create_task(one(*attempt)) for attempt in attempts]
        await asyncio.sleep(0.1)
        start.set()
        return Counter(await asyncio.gather(*tasks))


def test_parallel_guesses_for_one_account_get_only_the_allowed_number(
        server: Server, make_user: Any) -> None:
    user = make_user("guessed")
    attempts = [(user.username, f"wrong {i}", next(_addresses)) for i in range(30)]
    statuses = run_sync(_guesses(server, attempts))
    assert set(statuses) <= {401, 429}, statuses  # no 500: no duplicate-key race
    assert statuses[401] == MAX_FAILURES_PER_ACCOUNT, statuses
    failures = server.sql("SELECT failures FROM sign_in_failures WHERE key = ?",
                          ("user:" + user.username,))
    assert failures[0][0] == MAX_FAILURES_PER_ACCOUNT
    # The right password waits out the window too, as it does one guess at a time.
    right = run_sync(_guesses(server, [(user.username, PASSWORD, next(_addresses))]))
    assert right == Counter({429: 1})


def test_parallel_guesses_from_one_address_get_only_the_allowed_number(
        server: Server) -> None:
    address = next(_networks)
    attempts = [(f"nobody-{address}-{i}", "wrong password", address) for i in range(40)]
    statuses = run_sync(_guesses(server, attempts))
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] == MAX_FAILURES_PER_ADDRESS, statuses


def test_first_failures_at_once_are_all_counted(server: Server, make_user: Any) -> None:
    # Fewer guesses than the limit, all at once, for an account with no failures yet:
    # every one is counted (two first failures must not collide on the key).
    user = make_user("counted")
    attempts = [(user.username, f"wrong {i}", next(_addresses)) for i in range(4)]
    statuses = run_sync(_guesses(server, attempts))
    assert statuses == Counter({401: 4})
    assert server.sql("SELECT failures FROM sign_in_failures WHERE key = ?",
                      ("user:" + user.username,))[0][0] == 4
    signed_in = run_sync(_guesses(server, [(user.username, PASSWORD, next(_addresses))]))
    assert signed_in == Counter({303: 1})
    assert server.sql("SELECT COUNT(*) FROM sign_in_failures WHERE key = ?",
                      ("user:" + user.username,))[0][0] == 0



def test_simultaneous_right_sign_ins_to_one_account_all_get_in(
        server: Server, make_user: Any) -> None:
    # A team on one shared account (or one person's many tabs) signing in at once: each
    # attempt is counted before its password is checked, but a success gives its count
    # back, so the ones past the limit wait for those instead of being refused.
    user = make_user("shared")
    attempts = [(user.username, PASSWORD, next(_addresses))
                for _ in range(3 * MAX_FAILURES_PER_ACCOUNT)]
    statuses = run_sync(_guesses(server, attempts))
    assert statuses == Counter({303: len(attempts)}), statuses
