"""Users: creating accounts, checking and changing passwords."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tasklette.services.errors import Conflict, Invalid, NotFound
from tasklette.services.permissions import Actor
from tasklette.storage import sessions
from tasklette.storage import users as store
from tasklette.storage.database import Database, IntegrityError, Row, retried

USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
USERNAME_RULE = ("a username is 1 to 40 letters, digits, '.', '_' or '-', starting with a "
                 "letter or digit")
MIN_PASSWORD = 8

# argon2id with the memory and passes RFC 9106 recommends (64 MiB, 3 passes), in one
# lane: the library hashes each lane in a thread of its own, so its default of four
# lanes took four threads (both cores of a two-core server) for every hash, and a flood
# of sign-ins slowed every request. One lane is the same work for the server and for a
# guesser, and keeps a hash to one core. Older hashes are upgraded at sign-in.
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)
T = TypeVar("T")

# argon2 takes 64 MiB and ~0.2 s of a core per hash. Hashes run a few at a time in
# threads of their own: in the default pool, a flood of sign-ins filled every thread
# and queued ahead of the SQLite writer's BEGIN and COMMIT, which run there too
# (measured by bench/signin_flood_bench.py: a writer's p99 went from 13 ms to 9 s).
# At most half the cores hash, and at a lower priority than the threads serving
# requests (Linux gives each thread its own nice value): a sign-in may wait, a
# write should not.
HASH_THREADS = max(1, (os.cpu_count() or 2) // 2)


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


_hash_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, initializer=_lower_priority,
                                thread_name_prefix="tasklette-password-hash")


async def _hashing(work: Callable[..., T], *args: str) -> T:
    """Run `work` in the password-hashing pool (waiting for a free thread)."""
    return await asyncio.get_running_loop().run_in_executor(_hash_pool, work, *args)


def normalise_username(username: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise Invalid(USERNAME_RULE, field="username")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters", field="password")
    if len(password) > 1024:
        raise Invalid("a password can have at most 1024 characters", field="password")


async def hash_password(password: str) -> str:
    return await _hashing(_hasher.hash, password)


@retried
async def create(db: Database, username: str, password: str, display_name: str = "",
                 is_admin: bool = False) -> Row:
    """Create an account; Conflict when the username is taken."""
    name = normalise_username(username)
    check_password(password)
    display = display_name.strip() or name
    if len(display) > 100:
        raise Invalid("a display name can have at most 100 characters", field="display_name")
    password_hash = await hash_password(password)
    try:
        async with db.transaction() as tx:
            return await store.insert(tx, name, display, password_hash, is_admin)
    except IntegrityError:
        raise Conflict(f"the username {name!r} is taken") from None


async def verify_password(db: Database, username: str, password: str) -> Actor | None:
    """The user when the password is theirs; None otherwise (same time either way)."""
    try:
        name = normalise_username(username)
    except Invalid:
        name = ""
    async with db.reading() as conn:
        user = await store.by_username(conn, name) if name else None
        stored = await store.password_hash(conn, user["id"]) if user else None
    try:
        # With no such user, verify against a dummy hash so timing does not tell.
        await _hashing(_hasher.verify, stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if stored and _hasher.check_needs_rehash(stored):
        await _upgrade_hash(db, user["id"], stored, password)
    return Actor(user["id"], user["username"], user["display_name"], bool(user["is_admin"]))


@retried
async def _upgrade_hash(db: Database, user_id: int, stored: str, password: str) -> None:
    """Store the password hashed with today's parameters, unless it changed meanwhile."""
    password_hash = await hash_password(password)
    async with db.transaction() as tx:
        if await store.password_hash(tx, user_id) == stored:
            await store.set_password_hash(tx, user_id, password_hash)


@retried
async def set_password(db: Database, username: str, password: str) -> int:
    """Set a user's password (administration); every session of theirs ends (how many)."""
    check_password(password)
    password_hash = await hash_password(password)
    async with db.transaction() as tx:
        user = await store.by_username(tx, normalise_username(username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        await store.set_password_hash(tx, user["id"], password_hash)
        return await sessions.delete_for_user(tx, user["id"])


@retried
async def change_password(db: Database, actor: Actor, current: str, new: str,
                          keep_session: str = "") -> None:
    """Change the actor's own password after checking the current one.

    Every other session of theirs ends: whoever had the old password is signed out.
    The session `keep_session` (a session's id hash: the browser making the change)
    stays. API tokens are credentials of their own and stay too.
    """
    if await verify_password(db, actor.username, current) is None:
        raise Invalid("the current password is not right", field="current_password")
    check_password(new)
    password_hash = await hash_password(new)
    async with db.transaction() as tx:
        await store.set_password_hash(tx, actor.id, password_hash)
        await sessions.delete_for_user(tx, actor.id, keep_session)


async def list_all(db: Database) -> list[Row]:
    async with db.reading() as conn:
        return await store.list_all(conn)


async def by_username(db: Database, username: str) -> Row:
    async with db.reading() as conn:
        user = await store.by_username(conn, normalise_username(username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("tasklette-no-such-user")
