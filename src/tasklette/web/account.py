"""Pages for signing in and out, first-run setup, sign-up, password and API tokens."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints
from starlette.requests import Request
from starlette.responses import Response

from tasklette.api.calendar import feed_url
from tasklette.api.schemas import Name
from tasklette.services import calendar, sessions, tokens, users
from tasklette.services.errors import Invalid, ServiceError, TooManyRequests, Unauthenticated
from tasklette.services.permissions import Actor
from tasklette.storage import users as user_store
from tasklette.web.auth import (
    clear_session_cookie,
    cookie_secret,
    current_session,
    require_session,
    set_session_cookie,
)
from tasklette.web.pages import Form, read_form, redirect, render

Text = Annotated[str, StringConstraints(max_length=1024)]


class SignInForm(BaseModel):
    username: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    password: Text = ""
    next: Annotated[str, StringConstraints(max_length=2000)] = ""


class NewAccountForm(BaseModel):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=40)]
    display_name: Annotated[str, StringConstraints(strip_whitespace=True,
                                                   max_length=100)] = ""
    password: Text
    password_again: Text


class PasswordForm(BaseModel):
    current_password: Text
    password: Text
    password_again: Text


class TokenForm(BaseModel):
    name: Name


class CalendarForm(BaseModel):
    action: Literal["regenerate", "off"] = "regenerate"


def _safe_next(target: str) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/projects"


async def _no_users_yet(request: Request) -> bool:
    async with request.app.state.db.reading() as conn:
        return await user_store.count(conn) == 0


async def _signed_in(request: Request, actor: Actor, target: str) -> Response:
    """Start a fresh session (never reuse the old id) and go on to `target`."""
    old = cookie_secret(request)
    if old:
        await sessions.end(request.app.state.db, old)
    secret = await sessions.start(request.app.state.db, actor)
    response = redirect(_safe_next(target), request)
    set_session_cookie(request, response, secret)
    return response


async def sign_in_page(request: Request) -> Response:
    if await _no_users_yet(request):
        return redirect("/setup", request)
    if await current_session(request) is not None:
        return redirect(_safe_next(request.query_params.get("next", "")), request)
    form = Form({"next": request.query_params.get("next", "")}, {})
    return render(request, "account/signin.html", {"form": form})


async def sign_in(request: Request) -> Response:
    data, form = await read_form(request, SignInForm)
    if data is None or not data.username or not data.password:
        form.error("form", "Enter your username and password.")
        return render(request, "account/signin.html", {"form": form}, status=422)
    address = request.client.host if request.client else "unknown"
    try:
        actor = await sessions.sign_in(request.app.state.db, data.username, data.password,
                                       address)
    except TooManyRequests as exc:
        form.error("form", exc.detail[0].upper() + exc.detail[1:] + ".")
        return render(request, "account/signin.html", {"form": form}, status=429,
                      headers={"retry-after": str(exc.retry_after)})
    except Unauthenticated:
        form.error("form", "That username and password do not match an account.")
        return render(request, "account/signin.html", {"form": form}, status=401)
    return await _signed_in(request, actor, data.next)


async def sign_out(request: Request) -> Response:
    session = await current_session(request)
    await read_form(request, SignInForm, fields=())
    secret = cookie_secret(request)
    if session is not None and secret:
        await sessions.end(request.app.state.db, secret)
    response = redirect("/signin", request)
    clear_session_cookie(response)
    return response


async def _create_account(request: Request, template: str, admin: bool) -> Response:
    data, form = await read_form(request, NewAccountForm)
    if admin and not await _no_users_yet(request):
        return redirect("/signin", request)
    if data is not None and data.password != data.password_again:
        form.error("password_again", "The two passwords are not the same.")
    if data is None or form.errors:
        return render(request, template, {"form": form}, status=422)
    try:
        row = await users.create(request.app.state.db, data.username, data.password,
                                 data.display_name, is_admin=admin)
    except ServiceError as exc:
        field = exc.extra.get("errors", [{}])[0].get("field") if isinstance(exc, Invalid) \
            else "username"
        form.error(field or "form", exc.detail[0].upper() + exc.detail[1:] + ".")
        return render(request, template, {"form": form}, status=exc.status)
    actor = Actor(row["id"], row["username"], row["display_name"], admin)
    return await _signed_in(request, actor, "/projects")


async def setup_page(request: Request) -> Response:
    if request.method == "POST":  # the form is read (and its CSRF token checked) first
        return await _create_account(request, "account/setup.html", admin=True)
    if not await _no_users_yet(request):
        return redirect("/signin", request)
    return render(request, "account/setup.html", {"form": Form({}, {})})


async def sign_up_page(request: Request) -> Response:
    if request.method == "POST":
        await read_form(request, NewAccountForm, fields=())  # checks the CSRF token
    if not request.app.state.settings.allow_signup:
        return render(request, "account/signup_closed.html", status=404)
    if request.method == "POST":
        return await _create_account(request, "account/signup.html", admin=False)
    return render(request, "account/signup.html", {"form": Form({}, {})})


async def account_page(request: Request) -> Response:
    session = await require_session(request)
    form = Form({}, {})
    status = 200
    changed = False
    if request.method == "POST":
        data, form = await read_form(request, PasswordForm)
        if data is not None and data.password != data.password_again:
            form.error("password_again", "The two passwords are not the same.")
        if data is not None and not form.errors:
            try:
                # Every other session ends with the change; this browser's stays.
                await users.change_password(request.app.state.db, session.actor,
                                            data.current_password, data.password,
                                            keep_session=session.id_hash)
            except Invalid as exc:
                field = exc.extra["errors"][0]["field"] if exc.extra["errors"] else "form"
                form.error(field, exc.detail[0].upper() + exc.detail[1:] + ".")
            else:
                return redirect("/account?changed=1", request)
        status = 422
    changed = request.query_params.get("changed") == "1"
    return render(request, "account/account.html", {
        "form": form, "changed": changed,
        "calendar": await calendar.status(request.app.state.db, session.actor)},
                  status=status)


async def tokens_page(request: Request) -> Response:
    session = await require_session(request)
    db = request.app.state.db
    form, created, status = Form({}, {}), None, 200
    if request.method == "POST":
        data, form = await read_form(request, TokenForm)
        if data is None:
            status = 422
        else:
            row, secret = await tokens.create(db, session.actor, data.name)
            created = {**row, "token": secret}
            form = Form({}, {})
    rows = await tokens.list_mine(db, session.actor)
    return render(request, "account/tokens.html",
                  {"tokens": rows, "form": form, "created": created}, status=status)


async def revoke_token(request: Request) -> Response:
    session = await require_session(request)
    await read_form(request, TokenForm, fields=())
    await tokens.revoke(request.app.state.db, session.actor, request.path_params["token_id"])
    return redirect("/account/tokens", request)


async def calendar_feed(request: Request) -> Response:
    """POST /account/calendar: a new secret feed address (shown this once), or none."""
    session = await require_session(request)
    data, _ = await read_form(request, CalendarForm)
    db, url = request.app.state.db, None
    if data is not None and data.action == "off":
        await calendar.turn_off(db, session.actor)
    else:
        _, secret = await calendar.regenerate(db, session.actor)
        url = feed_url(request, secret)
    return render(request, "account/account.html", {
        "form": Form({}, {}), "changed": False, "calendar_url": url,
        "calendar": await calendar.status(db, session.actor)})
