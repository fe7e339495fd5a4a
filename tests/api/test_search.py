"""Full-text search over the API: titles, descriptions, comments; ranking, highlights,
membership, and an index that follows every change."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server, User, add_member


def make_task(user: User, project_id: int, title: str, **fields: Any) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project_id}/tasks",
                                json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def search(user: User, q: str, **params: Any) -> dict[str, Any]:
    response = user.client.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ids(user: User, q: str, **params: Any) -> list[int]:
    return [item["id"] for item in search(user, q, **params)["items"]]


def marked(text: str, spans: list[list[int]]) -> list[str]:
    return [text[start:end] for start, end in spans]


def test_finds_by_title_description_and_comment(owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    by_title = make_task(owner, pid, "Quarterly zeppelin inspection")
    by_description = make_task(owner, pid, "Hangar", description="Check the zeppelin's "
                               "envelope for tears before the flight on Monday.")
    by_comment = make_task(owner, pid, "Budget")
    owner.client.post(f"/api/v1/tasks/{by_comment['id']}/comments",
                      json={"body": "Ask finance about the zeppelin insurance."})
    make_task(owner, pid, "Unrelated work")
    found = search(owner, "zeppelin")
    # Ranked: a title match counts more than a description, which counts more than a comment.
    assert [item["id"] for item in found["items"]] == [
        by_title["id"], by_description["id"], by_comment["id"]]
    first, second, third = found["items"]
    assert marked(first["title"], first["title_highlights"]) == ["zeppelin"]
    assert second["title_highlights"] == []
    assert second["snippet"]["field"] == "description"
    assert "zeppelin" in marked(second["snippet"]["text"], second["snippet"]["highlights"])[0]
    assert third["snippet"]["field"] == "comments"
    assert marked(third["snippet"]["text"], third["snippet"]["highlights"]) == ["zeppelin"]
    assert (third["project_id"], third["project_name"], third["column_name"]) == (
        pid, "Launch", "To do")
    assert found["next_offset"] is None


def test_words_are_stemmed_and_all_must_match(owner: User, project: dict[str, Any]) -> None:
    pid = project["id"]
    both = make_task(owner, pid, "Running the migrations", description="on staging")
    make_task(owner, pid, "Running shoes")
    assert ids(owner, "run migration") == [both["id"]]  # stems: running -> run
    assert ids(owner, "RUNNING STAGING") == [both["id"]]
    assert ids(owner, "migrations nowhere") == []


def test_too_common_words_are_left_out(owner: User, project: dict[str, Any]) -> None:
    """Both engines ignore the words PostgreSQL's english configuration ignores."""
    task = make_task(owner, project["id"], "The state of the harbour")
    found = search(owner, "the harbour of")
    assert [item["id"] for item in found["items"]] == [task["id"]]
    assert found["ignored"] == ["the", "of"]
    assert ids(owner, '"state of the harbour"') == [task["id"]]  # phrases keep them


def test_only_my_projects_are_searched(owner: User, make_user: Any,
                                       project: dict[str, Any]) -> None:
    outsider = make_user("outsider")
    mine = make_task(owner, project["id"], "Secret kumquat plan")
    theirs_project = outsider.client.post("/api/v1/projects", json={"name": "Theirs"}).json()
    theirs = make_task(outsider, theirs_project["id"], "Public kumquat plan")
    assert ids(owner, "kumquat") == [mine["id"]]
    assert ids(outsider, "kumquat") == [theirs["id"]]
    # One project: a member may search it; for anyone else it does not exist.
    assert ids(owner, "kumquat", project=project["id"]) == [mine["id"]]
    for path in (f"/api/v1/projects/{project['id']}/search",):
        response = outsider.client.get(path, params={"q": "kumquat"})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    assert outsider.client.get("/api/v1/search", params={
        "q": "kumquat", "project": project["id"]}).status_code == 404
    # Joining the project makes its tasks findable; leaving hides them again.
    add_member(owner, project["id"], outsider, "viewer")
    assert sorted(ids(outsider, "kumquat")) == sorted([mine["id"], theirs["id"]])
    owner.client.delete(f"/api/v1/projects/{project['id']}/members/{outsider.username}")
    assert ids(outsider, "kumquat") == [theirs["id"]]


def test_project_search_endpoint(owner: User, project: dict[str, Any]) -> None:
    here = make_task(owner, project["id"], "Walrus feeding schedule")
    other = owner.client.post("/api/v1/projects", json={"name": "Zoo"}).json()
    make_task(owner, other["id"], "Walrus tank cleaning")
    response = owner.client.get(f"/api/v1/projects/{project['id']}/search",
                                params={"q": "walrus"})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [here["id"]]
    assert len(ids(owner, "walrus")) == 2


def test_the_index_follows_every_change(owner: User, server: Server,
                                        project: dict[str, Any]) -> None:
    task = make_task(owner, project["id"], "Paint the fence", description="white paint")
    assert ids(owner, "fence") == [task["id"]]
    owner.client.patch(f"/api/v1/tasks/{task['id']}",
                       json={"version": task["version"], "title": "Paint the gate",
                             "description": "green"})
    assert ids(owner, "fence") == [] and ids(owner, "white") == []
    assert ids(owner, "gate green") == [task["id"]]
    comment = owner.client.post(f"/api/v1/tasks/{task['id']}/comments",
                                json={"body": "Buy a brush"}).json()
    assert ids(owner, "brush") == [task["id"]]
    owner.client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "Buy a roller"})
    assert ids(owner, "brush") == [] and ids(owner, "roller") == [task["id"]]
    owner.client.delete(f"/api/v1/comments/{comment['id']}")
    assert ids(owner, "roller") == []
    sub = make_task(owner, project["id"], "Sand the gate first", parent_task_id=task["id"])
    found = search(owner, "sand")["items"]
    assert [item["id"] for item in found] == [sub["id"]]
    assert (found[0]["parent_task_id"], found[0]["parent_title"]) == (task["id"],
                                                                      "Paint the gate")
    # A move does not touch the index, and still finds the task where it went.
    doing = owner.client.get(f"/api/v1/projects/{project['id']}/columns").json()[1]
    owner.client.post(f"/api/v1/tasks/{task['id']}/move", json={"column_id": doing["id"]})
    assert search(owner, "gate paint")["items"][0]["column_name"] == "In progress"
    owner.client.delete(f"/api/v1/tasks/{task['id']}")
    assert ids(owner, "gate") == []
    # No index row outlives its task (the subtask went with its parent).
    for task_id in (task["id"], sub["id"]):
        if server.settings.database_url:
            rows = server.sql("SELECT 1 FROM task_search WHERE task_id = ?", (task_id,))
        else:
            rows = server.sql("SELECT 1 FROM task_search WHERE rowid = ?", (task_id,))
        assert rows == []


def test_results_are_paged(owner: User, project: dict[str, Any]) -> None:
    made = [make_task(owner, project["id"], f"Lighthouse report {n}")["id"] for n in range(5)]
    first = search(owner, "lighthouse", limit=2)
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    second = search(owner, "lighthouse", limit=2, offset=2)
    last = search(owner, "lighthouse", limit=2, offset=4)
    assert last["next_offset"] is None
    seen = [item["id"] for page in (first, second, last) for item in page["items"]]
    assert sorted(seen) == sorted(made)


def test_bad_queries_get_a_clear_422(owner: User, project: dict[str, Any]) -> None:
    cases = {
        '"unclosed phrase': "not closed",
        "colour:red": "there is no filter colour:",
        "label:": "label: needs a value",
        "priority:huge": "there is no priority 'huge'",
        "due:soon": "due:soon is not understood",
        "due:<2026-02-30": "is not a day of the calendar",
        "is:maybe": "write is:open or is:done",
        "assignee:Not/AName": "is not a username",
        "*": "a * can only end a word",
        "a* b": "write at least 2 letters before the *",
        "the with": "“the”, “with” are too common to search for",
        "   ": "type words to search for",
        "x " * 30: "at most 24 words",
    }
    for q, message in cases.items():
        response = owner.client.get("/api/v1/search", params={"q": q})
        assert response.status_code == 422, (q, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert message in problem["detail"], (q, problem)
        assert problem["errors"][0]["field"] == "q"
    too_long = owner.client.get("/api/v1/search", params={"q": "a" * 501})
    assert too_long.status_code == 422
    missing = owner.client.get("/api/v1/search")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "q"
    assert owner.client.get("/api/v1/search", params={"q": "x", "limit": 0}).status_code == 422
    # Punctuation and FTS syntax in free text are only text: never an error, never a 500.
    for q in ('a AND OR NOT b', 'NEAR(a b)', "c++ -x ^y", "title:x", '"a" "" ""',
              "don't", "o'brien's"):
        response = owner.client.get("/api/v1/search", params={"q": q})
        assert response.status_code in (200, 422), (q, response.text)
