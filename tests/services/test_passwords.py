"""Password hashing: one core per hash at most, and older hashes upgraded at sign-in."""

from __future__ import annotations

import os
import threading
from typing import Any

import httpx
from argon2 import PasswordHasher

from tasklette.services import users
from tasklette.storage import users as user_store
from tests.conftest import PASSWORD, Server, run_sync

# What Tasklette hashed with before: argon2-cffi's default, four lanes in four threads.
FOUR_LANES = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_a_password_hash_runs_in_one_thread() -> None:
    """A flood of sign-ins must leave the other cores to the requests and the writer:
    argon2 hashing four lanes in four threads of its own took both cores of a two-core
    server for each hash."""

    async def threads_while_hashing() -> tuple[int, int]:
        await users.hash_password("warm up the pool")  # the pool's thread exists now
        hashing = threading.Event()
        seen: list[int] = []

        def count_threads() -> None:
            while not hashing.is_set():
                seen.append(_threads())

        counter = threading.Thread(target=count_threads)
        counter.start()
        before = _threads()  # with the counting thread
        try:
            for i in range(3):
                await users.hash_password(f"a password {i}")
        finally:
            hashing.set()
            counter.join()
        return before, max(seen)

    before, most = run_sync(threads_while_hashing())
    assert most == before, f"{most - before} more threads while hashing"


def _stored_hash(server: Server, user_id: int) -> str:
    return str(server.sql("SELECT password_hash FROM users WHERE id = ?", (user_id,))[0][0])


async def _set_hash(server: Server, user_id: int, password_hash: str) -> None:
    async with server.db.transaction() as tx:
        await user_store.set_password_hash(tx, user_id, password_hash)


def _sign_in(server: Server, username: str, password: str, address: str) -> int:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        response = client.post("/signin", data={"username": username, "password": password},
                               headers={"X-Forwarded-For": address,
                                        "Sec-Fetch-Site": "same-origin"})
        return response.status_code


def test_an_older_hash_is_upgraded_when_its_password_is_right(
        server: Server, make_user: Any) -> None:
    user = make_user("legacy")
    server.call(_set_hash(server, user.id, FOUR_LANES.hash(PASSWORD)))

    assert _sign_in(server, user.username, "not the password", "198.51.100.201") == 401
    assert FOUR_LANES.check_needs_rehash(_stored_hash(server, user.id)) is False  # untouched

    assert _sign_in(server, user.username, PASSWORD, "198.51.100.202") == 303
    upgraded = _stored_hash(server, user.id)
    assert upgraded.startswith("$argon2id$") and "p=1" in upgraded, upgraded
    assert _sign_in(server, user.username, PASSWORD, "198.51.100.203") == 303
    assert _stored_hash(server, user.id) == upgraded  # upgraded once, not at every sign-in
