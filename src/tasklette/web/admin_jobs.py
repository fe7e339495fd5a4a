"""The administrators' page of the job queue: jobs by state, their last error, Retry."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from tasklette.numbers import int_or_none
from tasklette.services import jobs, permissions
from tasklette.services.errors import Invalid
from tasklette.web.auth import current_session
from tasklette.web.pages import read_form, redirect, render


class _Confirm(BaseModel):
    """A form of buttons only: nothing but its CSRF token is read."""


async def jobs_page(request: Request) -> Response:
    """Jobs newest first, of the state asked for (all by default), a page at a time."""
    session = await current_session(request)
    permissions.require_admin(session.actor if session else None)
    state = request.query_params.get("state") or None
    before_text = request.query_params.get("before")
    before = int_or_none(before_text)
    if before_text is not None and before is None:
        raise Invalid("`before` is a job number", field="before")
    page = await jobs.list_jobs(request.app.state.db, state, before)
    return render(request, "admin/jobs.html", {
        "page": page, "state": state, "states": jobs.STATES, "nav": "admin",
        "retried": int_or_none(request.query_params.get("retried"))})


async def retry_job(request: Request) -> Response:
    await read_form(request, _Confirm, fields=())  # a forged post is refused (403) first
    session = await current_session(request)
    permissions.require_admin(session.actor if session else None)
    job = await jobs.retry(request.app.state.db, request.path_params["job_id"])
    return redirect(f"/admin/jobs?state=failed&retried={job['id']}", request)
