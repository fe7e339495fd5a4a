"""The web UI's route table: each page module lists its own routes here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tasklette.web import account, projects
from tasklette.web.auth import current_session
from tasklette.web.pages import redirect


async def home(request: Request) -> Response:
    session = await current_session(request)
    return redirect("/projects" if session else "/signin", request)


def web_routes() -> list[BaseRoute]:
    return [
        Route("/", home, name="home"),
        Route("/signin", account.sign_in_page, methods=["GET"]),
        Route("/signin", account.sign_in, methods=["POST"]),
        Route("/signout", account.sign_out, methods=["POST"]),
        Route("/setup", account.setup_page, methods=["GET", "POST"]),
        Route("/signup", account.sign_up_page, methods=["GET", "POST"]),
        Route("/account", account.account_page, methods=["GET", "POST"]),
        Route("/account/tokens", account.tokens_page, methods=["GET", "POST"]),
        Route("/account/tokens/{token_id:id}/revoke", account.revoke_token, methods=["POST"]),
        Route("/projects", projects.projects_page, methods=["GET", "POST"], name="projects"),
        # --- board and task pages (web/board.py, web/task_pages.py) ---
        # --- list view, labels, members, project settings, my tasks ---
    ]
