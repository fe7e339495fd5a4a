"""The administrators' page of jobs: what it shows, Retry, and that no one else sees it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tasklette.services import jobs
from tests.conftest import Server, User, eventually


async def _make_admin(server: Server, user_id: int) -> None:
    async with server.db.transaction() as tx:
        await tx.execute("UPDATE users SET is_admin = 1 WHERE id = ?", (user_id,))


def _admin(server: Server, make_user: Any, browse: Any) -> Any:
    user: User = make_user("admin")
    server.call(_make_admin(server, user.id))
    return browse(user)


def _job(server: Server, job_id: int) -> dict[str, Any]:
    return server.call(jobs.get(server.db, job_id))  # type: ignore[no-any-return]


def test_admins_see_jobs_by_state_and_retry_failed_ones(server: Server, make_user: Any,
                                                         browse: Any) -> None:
    admin = _admin(server, make_user, browse)
    # The server runs no kind of job yet: one of a kind it does not know fails at once.
    failed = server.call(jobs.submit(server.db, "test.unknown", {"n": 1}, key="web-1"))
    later = server.call(jobs.submit(server.db, "test.later", {},
                                    run_after=datetime(2999, 1, 1, tzinfo=UTC)))
    eventually(lambda: _job(server, failed)["state"] == "failed")

    page = admin.page("/admin/jobs")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'data-job="{failed}"' in html and f'data-job="{later}"' in html
    assert "no handler for jobs of kind &#39;test.unknown&#39; in this Tasklette" in html
    assert f'action="/admin/jobs/{failed}/retry"' in html
    assert f'action="/admin/jobs/{later}/retry"' not in html  # only failed ones
    assert 'href="/admin/jobs">Jobs (administration)' in html
    assert "2999-01-01 00:00:00" in html and "<code>web-1</code>" in html

    only_failed = admin.page("/admin/jobs?state=failed").text
    assert f'data-job="{failed}"' in only_failed and f'data-job="{later}"' not in only_failed

    before = _job(server, failed)
    retried = admin.post(f"/admin/jobs/{failed}/retry", {"csrf_token": "unused"},
                         follow_redirects=False)
    assert retried.status_code == 303
    assert retried.headers["location"] == f"/admin/jobs?state=failed&retried={failed}"
    # Queued again with all its attempts; the server's runner then fails it once more.
    eventually(lambda: _job(server, failed)["finished_at"] != before["finished_at"]
               and _job(server, failed)["state"] == "failed")
    assert _job(server, failed)["attempts"] == 1
    assert f"Job {failed} is queued again." in admin.page(retried.headers["location"]).text

    not_failed = admin.post(f"/admin/jobs/{later}/retry")
    assert not_failed.status_code == 409
    assert f"Job {later} is queued: only a failed job can be retried." in not_failed.text
    assert admin.post("/admin/jobs/987654/retry").status_code == 404


def test_bad_filters_are_refused_plainly(server: Server, make_user: Any, browse: Any) -> None:
    admin = _admin(server, make_user, browse)
    state = admin.page("/admin/jobs?state=stuck")
    assert state.status_code == 422
    assert "There is no job state &#39;stuck&#39;: use one of queued, running, done, " \
           "failed." in state.text
    before = admin.page("/admin/jobs?before=ten")
    assert before.status_code == 422 and "is a job number" in before.text
    assert admin.page("/admin/jobs/x/retry").status_code in (404, 405)


def test_no_one_else_sees_the_jobs_page(server: Server, make_user: Any, browse: Any,
                                        anon: httpx.Client) -> None:
    member = browse()
    assert member.page("/admin/jobs").status_code == 404
    assert 'href="/admin/jobs"' not in member.page("/projects").text
    assert member.post("/admin/jobs/1/retry").status_code == 404
    assert anon.get("/admin/jobs").status_code == 404
    token_user: User = make_user("api")
    assert token_user.client.get("/admin/jobs").status_code == 404
