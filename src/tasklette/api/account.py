"""API views for the signed-in user and their API tokens."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tasklette.api import schemas
from tasklette.services import tokens
from tasklette.services.permissions import Actor


async def me(request: Request, actor: Actor) -> Any:
    return {"id": actor.id, "username": actor.username, "display_name": actor.display_name,
            "is_admin": actor.is_admin}


async def list_tokens(request: Request, actor: Actor) -> Any:
    return await tokens.list_mine(request.app.state.db, actor)


async def create_token(request: Request, actor: Actor, body: schemas.TokenCreate) -> Any:
    row, secret = await tokens.create(request.app.state.db, actor, body.name)
    return {**row, "token": secret}


async def revoke_token(request: Request, actor: Actor) -> Any:
    return await tokens.revoke(request.app.state.db, actor, request.path_params["token_id"])
