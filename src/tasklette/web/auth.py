"""Who is signed in (session cookie), and protection against cross-site requests."""

from __future__ import annotations

import hmac
from datetime import timedelta
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tasklette.services import sessions
from tasklette.services.errors import Forbidden
from tasklette.services.sessions import Session

COOKIE = "tasklette_session"
SECURE_COOKIE = "__Host-tasklette_session"  # over HTTPS: Secure, host-only, path /
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cookie_secret(request: Request) -> str | None:
    return request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE)


async def current_session(request: Request) -> Session | None:
    """The request's session, looked up once per request."""
    if "session" in request.scope.get("state", {}):
        return request.state.session  # type: ignore[no-any-return]
    secret = cookie_secret(request)
    session = None
    if secret:
        idle = timedelta(minutes=request.app.state.settings.session_idle_minutes)
        session = await sessions.resolve(request.app.state.db, secret, idle)
    request.state.session = session
    return session


class SignInRequired(Exception):
    """Raised by pages that need a signed-in user; answered with a redirect."""


async def require_session(request: Request) -> Session:
    session = await current_session(request)
    if session is None:
        raise SignInRequired()
    return session


def redirect_to_sign_in(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request"):
        response = Response(status_code=204)
        response.headers["hx-redirect"] = f"/signin?next={quote(target)}"
        return response
    return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)


def set_session_cookie(request: Request, response: Response, secret: str) -> None:
    secure = request.url.scheme == "https"
    max_age = request.app.state.settings.session_idle_minutes * 60
    response.set_cookie(SECURE_COOKIE if secure else COOKIE, secret, max_age=max_age,
                        path="/", httponly=True, samesite="lax", secure=secure)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    response.delete_cookie(SECURE_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=True)


# --- cross-site request forgery -------------------------------------------------------


def same_origin_by_headers(scope: Scope, headers: dict[str, str]) -> bool | None:
    """True or False when the browser said where the request comes from; None if it did not."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is not None:
        host = headers.get("host", "")
        return origin in (f"http://{host}", f"https://{host}")
    return None


def bearer_token(header: str | None) -> str | None:
    """The secret of an `Authorization: Bearer <token>` header; None for any other header."""
    if header is None:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def _refused(scope: Scope) -> Response:
    detail = "this request came from another site and was refused (CSRF protection)"
    if scope["path"].startswith("/api/"):
        return Response(orjson.dumps({"type": "about:blank", "title": "Forbidden",
                                      "status": 403, "detail": detail}),
                        status_code=403, media_type="application/problem+json")
    return Response(detail[0].upper() + detail[1:] + ".", status_code=403,
                    media_type="text/plain")


class CSRFMiddleware:
    """Refuses cross-site state-changing requests before they reach any view.

    Browsers say where a request comes from (Sec-Fetch-Site, or Origin); a request
    that says neither must carry the session's CSRF token, which the views check
    (`check_csrf_token`). Only an API call with a bearer token skips these checks: a
    cross-site form cannot set that header, and the API then ignores the cookie
    (`api.http.authenticate`). Any other Authorization header proves nothing: behind a
    proxy with HTTP Basic auth, browsers add `Authorization: Basic` to forged posts too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        verdict = same_origin_by_headers(scope, headers)
        state = scope.setdefault("state", {})
        state["csrf_cross_site"] = verdict is False
        state["csrf_token_required"] = verdict is None
        api_with_token = (scope["path"].startswith("/api/")
                          and bearer_token(headers.get("authorization")) is not None)
        if verdict is False and not api_with_token:
            await _refused(scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def check_csrf_token(request: Request, session: Session | None, sent: str | None) -> None:
    """A session may act only for a request from its own site, or one with its token."""
    state = request.scope.get("state", {})
    if session is None:
        return  # nothing to forge: no signed-in user
    if state.get("csrf_cross_site"):
        raise Forbidden("this request came from another site and was refused")
    if not state.get("csrf_token_required"):
        return
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise Forbidden("the form has expired or came from elsewhere; reload the page "
                        "and try again")
