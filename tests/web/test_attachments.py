"""Attachments in the web UI: the task's list, the fragment, downloads and the form fallbacks."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import httpx

from tests.api.test_attachments import multipart, upload
from tests.conftest import Server, User, add_member
from tests.web.test_board import make_task

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)


def attachment_count(server: Server, task_id: int) -> int:
    return int(server.sql("SELECT COUNT(*) AS n FROM attachments WHERE task_id = ?",
                          (task_id,))[0]["n"])


def test_the_task_shows_its_attachments(browse: Any, owner: User, make_user: Any,
                                        project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Design review")
    text, image = upload(owner, task["id"], ("notes.txt", b"see the mockups"),
                         ("mockup.png", PNG)).json()
    html = browse(owner).page(f"/tasks/{task['id']}").text
    section = html[html.index('<section class="task-attachments"'):]
    section = section[:section.index("</section>")]
    assert 'data-upload-url="/api/v1/tasks/' in section
    assert 'data-max-file-bytes="1073741824"' in section and "Up to 1 GiB per file" in section
    assert f'href="/attachments/{text["id"]}" download="notes.txt"' in section
    assert f"SHA-256 {hashlib.sha256(b'see the mockups').hexdigest()}" in section
    assert "15 bytes" in section and owner.username in section
    assert f'<img src="/attachments/{image["id"]}/inline"' in section
    assert f'<img src="/attachments/{text["id"]}/inline"' not in section  # not an image
    assert 'enctype="multipart/form-data"' in section  # the form that works without JS
    assert "attached “notes.txt” to “Design review”" in html  # the activity

    viewer = make_user("viewer")
    add_member(owner, project["id"], viewer, "viewer")
    seen = browse(viewer).page(f"/tasks/{task['id']}").text
    assert "notes.txt" in seen and "mockup.png" in seen
    assert "data-upload-url" not in seen and "/delete" not in seen.split("Attachments")[1]


def test_the_board_card_counts_attachments(browse: Any, owner: User,
                                           project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Has files")
    upload(owner, task["id"], ("a.txt", b"a"), ("b.txt", b"b"))
    board = browse(owner).page(f"/projects/{project['id']}").text
    card = board[board.index(f'id="card-{task["id"]}"'):]
    card = card[:card.index("</article>")]
    assert '<span class="badge attachments" title="Attachments">2</span>' in card


def test_the_fragment_carries_the_card_for_the_board(browse: Any, owner: User,
                                                     project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], title="Fragment")
    upload(owner, task["id"], ("a.txt", b"a"))
    tab = browse(owner)
    plain = tab.htmx("GET", f"/tasks/{task['id']}/attachments")
    assert plain.status_code == 200
    assert plain.text.lstrip().startswith('<section class="task-attachments"')
    assert "hx-swap-oob" not in plain.text
    from_board = tab.htmx("GET", f"/tasks/{task['id']}/attachments",
                          headers={"X-Tasklette-Board": "1"})
    assert re.search(rf'id="card-{task["id"]}"[^>]*hx-swap-oob="true"', from_board.text)
    assert 'class="badge attachments" title="Attachments">1<' in from_board.text


def test_downloads_through_the_session(browse: Any, anon: Any, owner: User,
                                      make_user: Any, project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"])
    text, image = upload(owner, task["id"], ("r\u00e9sum\u00e9.txt", b"cv"),
                         ("pic.png", PNG)).json()
    tab = browse(owner)
    got = tab.page(f"/attachments/{text['id']}")
    assert got.status_code == 200 and got.content == b"cv"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")
    shown = tab.page(f"/attachments/{image['id']}/inline")
    assert shown.status_code == 200 and shown.content == PNG
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline;")
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert shown.headers["content-security-policy"].startswith("sandbox")
    assert tab.page(f"/attachments/{text['id']}/inline").status_code == 404
    assert tab.page(f"/attachments/{image['id']}", headers={
        "range": "bytes=0-7"}).content == PNG[:8]

    signed_out = anon.get(f"/attachments/{text['id']}")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/signin?next=")
    stranger = browse(make_user("stranger")).page(f"/attachments/{text['id']}")
    assert stranger.status_code == 404 and b"cv" not in stranger.content


def test_upload_and_delete_without_scripts(server: Server, browse: Any, owner: User,
                                           project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"])
    tab = browse(owner)
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      tab.page(f"/tasks/{task['id']}").text)
    assert token is not None
    body = multipart(("csrf_token", None, token.group(1).encode()),
                     ("file", "plain.txt", b"no scripts needed"))
    boundary = "tasklette-test-boundary-7MA4YWxkTrZu0gW"
    posted = tab.client.post(f"/tasks/{task['id']}/attachments", content=body, headers={
        "content-type": f"multipart/form-data; boundary={boundary}"})
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/tasks/{task['id']}#attachments"
    (row,) = server.sql("SELECT id, filename FROM attachments WHERE task_id = ?",
                        (task["id"],))
    assert row["filename"] == "plain.txt"

    # A browser that does not say where a request comes from must send the form's token.
    forged = multipart(("csrf_token", None, b"wrong"), ("file", "x.txt", b"x"))
    with httpx.Client(base_url=server.base_url, cookies=tab.client.cookies) as old_browser:
        refused = old_browser.post(f"/tasks/{task['id']}/attachments", content=forged,
                                   headers={"content-type": "multipart/form-data; "
                                                            f"boundary={boundary}"})
    assert refused.status_code == 403
    assert "expired or came from elsewhere" in refused.text
    assert attachment_count(server, task["id"]) == 1

    too_big = tab.client.post(f"/tasks/{task['id']}/attachments", content=b"x", headers={
        "content-type": "text/plain"})
    assert too_big.status_code == 415 and "multipart/form-data" in too_big.text

    deleted = tab.htmx("POST", f"/attachments/{row['id']}/delete",
                       data={"csrf_token": token.group(1)})
    assert deleted.status_code == 200
    assert '<div class="attachment-items">' in deleted.text
    assert "plain.txt" not in deleted.text
    assert attachment_count(server, task["id"]) == 0


def test_a_cross_site_upload_is_refused(server: Server, browse: Any, owner: User,
                                        project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"])
    tab = browse(owner)
    response = tab.client.post(f"/api/v1/tasks/{task['id']}/attachments",
                               files={"file": ("evil.txt", b"x")},
                               headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert attachment_count(server, task["id"]) == 0
    same_site = tab.client.post(f"/api/v1/tasks/{task['id']}/attachments",
                                files={"file": ("fine.txt", b"x")})
    assert same_site.status_code == 201
