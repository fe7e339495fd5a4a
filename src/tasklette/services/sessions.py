"""Browser sessions: sign-in (throttled), lookup with an idle timeout, sign-out."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tasklette.services import users
from tasklette.services.errors import TooManyRequests, Unauthenticated
from tasklette.services.permissions import Actor, Credential
from tasklette.storage import sessions as store
from tasklette.storage.database import Database, Row, retried

log = logging.getLogger("tasklette.sessions")

# Failed sign-ins allowed per window, for one account and for one client address.
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)
# How long an attempt refused only because others are still being checked waits for them.
PATIENCE_SECONDS = 5.0
# Attempts of this process that are counted and not yet settled, by throttle key.
_in_flight: Counter[str] = Counter()
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, and the token its forms must carry."""

    actor: Actor
    csrf_token: str
    id_hash: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@retried
async def start(db: Database, actor: Actor) -> str:
    """Open a new session for the actor; return the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    async with db.transaction() as tx:
        await store.insert(tx, _hash(secret), actor.id, secrets.token_urlsafe(24))
    return secret


@retried
async def resolve(db: Database, secret: str, idle: timedelta) -> Session | None:
    """The session of a cookie secret, unless unknown or idle for longer than `idle`."""
    if not secret or len(secret) > 100:
        return None
    id_hash = _hash(secret)
    async with db.reading() as conn:
        row = await store.get(conn, id_hash)
    if row is None:
        return None
    now = datetime.now(UTC)
    last_seen = _parse(row["last_seen_at"])
    if now - last_seen > idle:
        async with db.transaction() as tx:
            await store.delete(tx, id_hash)
        return None
    if now - last_seen > TOUCH_EVERY:
        async with db.transaction() as tx:
            await store.touch(tx, id_hash)
    actor = Actor(row["user_id"], row["username"], row["display_name"], bool(row["is_admin"]),
                  credential=Credential("session", id_hash))
    return Session(actor, row["csrf_token"], id_hash)


async def is_active(db: Database, id_hash: str, idle: timedelta) -> bool:
    """Whether the session `id_hash` still stands (not ended, not idle): one read.

    For what outlives a request, such as an event stream, to check its credential.
    """
    async with db.reading() as conn:
        row = await store.get(conn, id_hash)
    return row is not None and datetime.now(UTC) - _parse(row["last_seen_at"]) <= idle


@retried
async def end(db: Database, secret: str) -> None:
    async with db.transaction() as tx:
        await store.delete(tx, _hash(secret))


def _throttled(row: Row | None) -> TooManyRequests:
    now = datetime.now(UTC)
    ends = _parse(row["window_started_at"]) + FAILURE_WINDOW if row else now
    wait = max(1, int((ends - now).total_seconds()) + 1)
    return TooManyRequests(
        f"too many failed sign-ins; try again in {max(1, wait // 60)} minute(s)",
        retry_after=wait)


async def sign_in(db: Database, username: str, password: str, address: str) -> Actor:
    """Check a username and password, slowing down repeated failures (429).

    Every attempt is counted before its password is checked (one atomic statement per
    key), so that parallel guesses cannot all slip under the limit; a success gives
    its count back. The error for a wrong password and for an unknown user is the same.
    """
    # No username holds U+0000, and PostgreSQL cannot even compare text with it.
    username = username.replace("\x00", "\ufffd")
    user_key = "user:" + username.strip().lower()[:100]
    address_key = "addr:" + address
    keys = [(user_key, MAX_FAILURES_PER_ACCOUNT), (address_key, MAX_FAILURES_PER_ADDRESS)]
    await _take_attempts_patiently(db, keys)  # marks them in flight
    try:
        actor = await users.verify_password(db, username, password)
        if actor is None:
            raise Unauthenticated("the username or password is not right")
        await _succeeded(db, user_key, address_key)
    finally:
        _settle(keys)
    return actor


async def _take_attempts_patiently(db: Database, keys: list[tuple[str, int]]) -> None:
    """Count the attempt; when refused while this process still checks others for the
    same keys, wait for them first (a success gives its count back), for a while.

    An account or address that is really locked out has nothing in flight: its
    refusal is at once, and costs one statement, however many requests come.
    """
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        # Looked at before as well as after: one that settles meanwhile counts too.
        others_before = any(_in_flight[key] for key, _ in keys)
        try:
            await _take_attempts(db, keys)
            return
        except TooManyRequests:
            others = others_before or any(_in_flight[key] for key, _ in keys)
            if not others or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


@retried
async def _take_attempts(db: Database, keys: list[tuple[str, int]]) -> None:
    window_start_after = _iso(datetime.now(UTC) - FAILURE_WINDOW)
    marked = False
    try:
        async with db.transaction() as tx:
            for key, limit in keys:
                if await store.take_attempt(tx, key, limit, window_start_after) is None:
                    raise _throttled(await store.failures(tx, key))  # uncounts every key
            # In flight from the moment they are counted, before the commit: attempts
            # refused in the same SQLite batch must see them to wait for them.
            _in_flight.update(key for key, _ in keys)
            marked = True
    except BaseException:
        if marked:
            _settle(keys)
        raise


def _settle(keys: list[tuple[str, int]]) -> None:
    _in_flight.subtract(key for key, _ in keys)
    for key, _ in keys:
        if _in_flight[key] <= 0:
            del _in_flight[key]


@retried
async def _succeeded(db: Database, user_key: str, address_key: str) -> None:
    async with db.transaction() as tx:
        await store.clear_failures(tx, user_key)
        await store.give_back_attempt(tx, address_key)


@retried
async def purge(db: Database, idle: timedelta) -> tuple[int, int]:
    """Delete sessions idle for longer than `idle` and sign-in counts of ended windows.

    Returns how many sessions and how many counts were removed.
    """
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        ended = await store.delete_idle(tx, _iso(now - idle))
        counts = await store.delete_old_failures(tx, _iso(now - FAILURE_WINDOW))
    return ended, counts


async def purge_every(db: Database, idle: timedelta, seconds: int) -> None:
    """Purge at once and then every `seconds`, until cancelled (the server's lifespan)."""
    while True:
        try:
            ended, counts = await purge(db, idle)
        except Exception:  # a busy or unreachable database: try again next time
            log.exception("purging ended sessions failed")
        else:
            if ended or counts:
                log.info("purged %d ended sessions and %d old sign-in failure counts",
                         ended, counts)
        await asyncio.sleep(seconds)
