"""The web UI reading numbers written with digits that are not ASCII: a clear 4xx, never 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_hostile_numbers import SUPERSCRIPT_TWO, asgi, make_task
from tests.conftest import Server, User

ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def test_the_import_page_refuses_a_content_length_in_odd_digits(
        server: Server, browse: Any) -> None:
    tab = browse()
    cookies = "; ".join(f"{name}={value}" for name, value in tab.client.cookies.items())
    response = asgi(server, "POST", "/projects/import", {
        "cookie": cookies, "sec-fetch-site": "same-origin",
        "content-type": "multipart/form-data; boundary=x",
        "content-length": SUPERSCRIPT_TWO}, b"--x--\r\n")
    assert response.status_code == 400, response.text
    assert "<html" in response.text and "Content-Length" in response.text


@pytest.mark.parametrize("param", ["offset", "project"])
@pytest.mark.parametrize("value", ["²", "٣", "+1", "1_0"])
def test_the_search_page_refuses_odd_digits(browse: Any, param: str, value: str) -> None:
    page = browse().page("/search", params={"q": "anything", param: value})
    assert page.status_code == 400, page.text
    assert "<html" in page.text and "whole number" in page.text


def test_the_task_form_refuses_labels_in_odd_digits(server: Server, browse: Any, owner: User,
                                                    project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"])
    label = owner.client.post(f"/api/v1/projects/{project['id']}/labels",
                              json={"name": "bug", "color": "#e5484d"}).json()
    arabic = str(label["id"]).translate(ARABIC)
    tab = browse(owner)
    for value in ("²", arabic):
        response = tab.post(f"/tasks/{task['id']}", {
            "version": str(task["version"]), "title": "Changed", "label_ids": ["", value]})
        assert response.status_code == 422, response.text
        assert "Choose labels from the list." in response.text
    (row,) = server.sql("SELECT title, version FROM tasks WHERE id = ?", (task["id"],))
    assert (row[0], row[1]) == ("Task", task["version"])
    assert server.sql("SELECT COUNT(*) FROM task_labels WHERE task_id = ?",
                      (task["id"],))[0][0] == 0


def test_a_comment_form_naming_its_task_in_odd_digits_is_404(
        server: Server, browse: Any, owner: User, project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"])
    comment = owner.client.post(f"/api/v1/tasks/{task['id']}/comments",
                                json={"body": "Keep me"}).json()
    tab = browse(owner)
    for value in ("²", str(task["id"]).translate(ARABIC)):
        response = tab.post(f"/comments/{comment['id']}/delete", {"task_id": value})
        assert response.status_code == 404, response.text
    assert server.sql("SELECT COUNT(*) FROM comments WHERE id = ?", (comment["id"],))[0][0] == 1


