"""API tokens: shown once at creation, stored only as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets

from tasklette.services.errors import Invalid, NotFound
from tasklette.services.permissions import Actor, Credential
from tasklette.storage import tokens as store
from tasklette.storage.database import Database, Row, retried

PREFIX = "tsk_"


def _hash(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@retried
async def create(db: Database, actor: Actor, name: str) -> tuple[Row, str]:
    """Create a token for the actor; return its row and the secret (shown this once)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("a token name has 1 to 100 characters", field="name")
    secret = PREFIX + secrets.token_urlsafe(32)
    async with db.transaction() as tx:
        row = await store.insert(tx, actor.id, name, _hash(secret), secret[:8])
    return row, secret


async def authenticate(db: Database, secret: str) -> Actor | None:
    """The user a token belongs to, if the token is valid and not revoked."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    async with db.reading() as conn:
        user = await store.user_for_hash(conn, _hash(secret))
    if user is None:
        return None
    return Actor(user["id"], user["username"], user["display_name"], bool(user["is_admin"]),
                 credential=Credential("token", user["token_id"]))


async def list_mine(db: Database, actor: Actor) -> list[Row]:
    async with db.reading() as conn:
        return await store.list_for_user(conn, actor.id)


@retried
async def revoke(db: Database, actor: Actor, token_id: int) -> Row:
    async with db.transaction() as tx:
        row = await store.revoke(tx, actor.id, token_id)
    if row is None:
        raise NotFound("token not found")
    return row


@retried
async def revoke_all(db: Database, user_id: int) -> int:
    """Revoke every active token of a user (administration); how many were active."""
    async with db.transaction() as tx:
        return await store.revoke_all(tx, user_id)
