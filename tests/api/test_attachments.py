"""Attachments over the API: byte-exact round trips, names, dedup, ranges, permissions."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest

from tasklette.api import schemas
from tests.conftest import Server, User, add_member, eventually

BOUNDARY = "tasklette-test-boundary-7MA4YWxkTrZu0gW"


def new_task(user: User, project: dict[str, Any], title: str = "Has files") -> dict[str, Any]:
    response = user.client.post(f"/api/v1/projects/{project['id']}/tasks",
                                json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def upload(user: User, task_id: int, *files: tuple[str, bytes]) -> httpx.Response:
    """POST the files as httpx encodes multipart/form-data (a Content-Length is sent)."""
    return user.client.post(f"/api/v1/tasks/{task_id}/attachments",
                            files=[("file", (name, data, "application/octet-stream"))
                                   for name, data in files])


def multipart(*parts: tuple[str, str | bytes | None, bytes],
              boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body built by hand: (field name, filename or None, bytes)."""
    body = b""
    for name, filename, data in parts:
        disposition = b'form-data; name="' + name.encode() + b'"'
        if filename is not None:
            raw = filename if isinstance(filename, bytes) else filename.encode()
            disposition += b'; filename="' + raw + b'"'
        body += (b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition
                 + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    return body + b"--" + boundary.encode() + b"--\r\n"


def post_raw(user: User, task_id: int, body: bytes, boundary: str = BOUNDARY,
             **headers: str) -> httpx.Response:
    return user.client.post(
        f"/api/v1/tasks/{task_id}/attachments", content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}", **headers})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_path(server: Server, digest: str) -> Path:
    return server.settings.data_dir / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest


def spools(server: Server) -> list[Path]:
    """Temporary upload files still on disk."""
    return sorted((server.settings.data_dir / "blobs" / "tmp").iterdir())


def attachment_rows(server: Server, task_id: int) -> list[Any]:
    return server.sql("SELECT id, filename, size, sha256, content_type, uploader_id "
                      "FROM attachments WHERE task_id = ? ORDER BY id", (task_id,))


def download(user: User, attachment_id: int, **headers: str) -> httpx.Response:
    return user.client.get(f"/api/v1/attachments/{attachment_id}", headers=headers)


# --- round trips ---------------------------------------------------------------------------


def _contents() -> list[Any]:
    rng = os.urandom
    # Bytes that look like the start of a delimiter, across the parser's buffer edges.
    tricky = (b"\r\n--" + BOUNDARY[:-1].encode() + b"x") * 4000
    return [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00", id="one-byte"),
        pytest.param(rng(1023), id="1023-bytes"),
        pytest.param(rng(65_537), id="64KiB+1"),
        pytest.param(rng(512 * 1024 + 1), id="write-batch+1"),
        pytest.param(tricky + b"\r\n-" + rng(3), id="delimiter-lookalikes"),
        pytest.param(rng(5 * 1024 * 1024 + 17), id="5MiB+17"),
    ]


@pytest.mark.parametrize("data", _contents())
def test_round_trip_is_byte_exact(server: Server, owner: User, project: dict[str, Any],
                                  data: bytes) -> None:
    task = new_task(owner, project)
    response = upload(owner, task["id"], ("data.bin", data))
    assert response.status_code == 201, response.text
    (created,) = response.json()
    schemas.Attachment.model_validate(created)
    assert (created["size"], created["sha256"]) == (len(data), sha256(data))
    assert created["filename"] == "data.bin"
    assert created["uploader_username"] == owner.username

    got = download(owner, created["id"])
    assert got.status_code == 200
    assert sha256(got.content) == sha256(data)
    assert got.headers["etag"] == f'"{sha256(data)}"'
    assert got.headers["accept-ranges"] == "bytes"
    assert blob_path(server, sha256(data)).read_bytes() == data
    assert spools(server) == []
    rows = attachment_rows(server, task["id"])
    assert [(r["size"], r["sha256"]) for r in rows] == [(len(data), sha256(data))]


def test_upload_writes_its_event_and_shows_on_the_task(server: Server, owner: User,
                                                       project: dict[str, Any]) -> None:
    task = new_task(owner, project, "Report")
    (created,) = upload(owner, task["id"], ("q3.pdf", b"%PDF-1.7 ...")).json()
    events = server.sql("SELECT kind, entity_type, entity_id, task_id, payload FROM events "
                        "WHERE task_id = ? AND kind LIKE 'attachment.%'", (task["id"],))
    assert [(e["kind"], e["entity_type"], e["entity_id"]) for e in events] == [
        ("attachment.added", "attachment", created["id"])]
    payload = orjson.loads(events[0]["payload"])
    card = payload.pop("card")  # the task's board card as it is now: boards redraw it
    assert payload == {
        "id": created["id"], "name": "q3.pdf", "size": 12, "content_type": "application/pdf",
        "sha256": sha256(b"%PDF-1.7 ..."), "task_title": "Report"}
    assert (card["id"], card["attachment_count"]) == (task["id"], 1)
    assert owner.client.get(f"/api/v1/tasks/{task['id']}").json()["attachment_count"] == 1
    listed = owner.client.get(f"/api/v1/tasks/{task['id']}/attachments").json()
    assert [item["id"] for item in listed] == [created["id"]]
    activity = owner.client.get(f"/api/v1/tasks/{task['id']}/activity").json()
    assert activity[0]["kind"] == "attachment.added"


def test_several_files_in_one_request(server: Server, owner: User,
                                      project: dict[str, Any]) -> None:
    task = new_task(owner, project)
    files = [("a.txt", b"alpha\n"), ("b.png", b"\x89PNG\r\n\x1a\n" + os.urandom(300)),
             ("c.bin", os.urandom(70_000))]
    response = upload(owner, task["id"], *files)
    assert response.status_code == 201, response.text
    created = response.json()
    assert [(c["filename"], c["size"], c["sha256"]) for c in created] == [
        (name, len(data), sha256(data)) for name, data in files]
    assert [c["content_type"] for c in created] == [
        "text/plain; charset=utf-8", "image/png", "application/octet-stream"]
    for item, (_, data) in zip(created, files, strict=True):
        assert download(owner, item["id"]).content == data
    assert len(attachment_rows(server, task["id"])) == 3


def test_the_content_type_is_sniffed_not_taken_from_the_client(
        owner: User, project: dict[str, Any]) -> None:
    task = new_task(owner, project)
    page = b"<!doctype html><script>alert(1)</script>"
    response = owner.client.post(f"/api/v1/tasks/{task['id']}/attachments", files=[
        ("file", ("page.html", page, "text/html")),
        ("file", ("photo.jpg", b"GIF89a" + os.urandom(50), "image/jpeg"))])
    html, gif = response.json()
    assert html["content_type"] == "text/plain; charset=utf-8"
    assert gif["content_type"] == "image/gif"
    got = download(owner, html["id"])
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert got.headers["content-disposition"].startswith("attachment;")


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "shown"), [
    ("Überraschung 日本語 🎉 Ärger.txt", "Überraschung 日本語 🎉 Ärger.txt"),
    ("../../etc/passwd", "passwd"),
    # Backslashes escape in a quoted header value: these arrive as ..\..\windows\…
    (b"..\\\\..\\\\windows\\\\system.ini", "system.ini"),
    (b"nul\x00byte\x01\x1f.txt", "nulbyte.txt"),
    ("evil\u202etxt.exe", "eviltxt.exe"),
    ("..", "file"),
    ("x" * 1000 + ".pdf", "x" * 251 + ".pdf"),
])
def test_filenames_are_kept_for_display_only(server: Server, owner: User,
                                             project: dict[str, Any], sent: str | bytes,
                                             shown: str) -> None:
    task = new_task(owner, project)
    data = os.urandom(32)
    response = post_raw(owner, task["id"], multipart(("file", sent, data)))
    assert response.status_code == 201, response.text
    (created,) = response.json()
    assert created["filename"] == shown
    disposition = download(owner, created["id"]).headers["content-disposition"]
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == shown
    ascii_name = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert ascii_name.isascii() and "/" not in ascii_name
    # The bytes are stored under their digest; no name ever became a path.
    data_dir = server.settings.data_dir
    found = [p for p in data_dir.rglob("*") if p.is_file() and p.read_bytes() == data]
    assert found == [blob_path(server, sha256(data))]


# --- concurrency -------------------------------------------------------------------------


def test_eight_concurrent_uploads_do_not_block_the_server(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    task = new_task(owner, project)
    payloads = [os.urandom(3 * 1024 * 1024 + i) for i in range(8)]
    results: list[httpx.Response] = []
    errors: list[BaseException] = []

    def send(data: bytes) -> None:
        try:
            with httpx.Client(base_url=server.base_url, timeout=60,
                              headers={"Authorization": f"Bearer {owner.token}"}) as client:
                results.append(client.post(f"/api/v1/tasks/{task['id']}/attachments",
                                           files={"file": ("part.bin", data)}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(data,)) for data in payloads]
    for thread in threads:
        thread.start()
    waits = []
    with httpx.Client(base_url=server.base_url, timeout=30) as probe:
        while any(thread.is_alive() for thread in threads):
            started = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            waits.append(time.perf_counter() - started)
            time.sleep(0.01)
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(r.status_code for r in results) == [201] * 8
    assert sorted(r.json()[0]["sha256"] for r in results) == sorted(map(sha256, payloads))
    assert len(attachment_rows(server, task["id"])) == 8
    assert spools(server) == []
    # The event loop kept answering while eight files were written and hashed.
    assert max(waits) < 1.0, f"a request waited {max(waits):.2f}s during the uploads"


# --- dedup and deleting ----------------------------------------------------------------------


def test_same_bytes_are_stored_once_and_removed_with_their_last_attachment(
        server: Server, owner: User, project: dict[str, Any]) -> None:
    first, second = new_task(owner, project), new_task(owner, project)
    data = os.urandom(10_000)
    (a,) = upload(owner, first["id"], ("one.bin", data)).json()
    (b,) = upload(owner, second["id"], ("two.bin", data)).json()
    assert a["sha256"] == b["sha256"] and a["id"] != b["id"]
    path = blob_path(server, sha256(data))
    digest_dir = path.parent
    assert [p.name for p in digest_dir.iterdir()] == [sha256(data)]

    assert owner.client.delete(f"/api/v1/attachments/{a['id']}").status_code == 204
    assert path.is_file(), "still named by the other attachment"
    assert download(owner, a["id"]).status_code == 404
    assert download(owner, b["id"]).content == data

    assert owner.client.delete(f"/api/v1/attachments/{b['id']}").status_code == 204
    eventually(lambda: not path.exists())  # after the grace period (0 s here)
    assert attachment_rows(server, first["id"]) == []
    assert attachment_rows(server, second["id"]) == []
    kinds = [row["kind"] for row in server.sql(
        "SELECT kind FROM events WHERE entity_type = 'attachment' AND entity_id IN (?, ?) "
        "ORDER BY id", (a["id"], b["id"]))]
    assert kinds == ["attachment.added", "attachment.added", "attachment.deleted",
                     "attachment.deleted"]
    assert owner.client.delete(f"/api/v1/attachments/{b['id']}").status_code == 404


# --- ranges and conditional requests ----------------------------------------------------------


@pytest.fixture
def hundred(owner: User, project: dict[str, Any]) -> tuple[int, bytes]:
    """An attachment of 100 known bytes."""
    data = bytes(range(100))
    (created,) = upload(owner, new_task(owner, project)["id"], ("h.bin", data)).json()
    return created["id"], data


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=10-19", 10, 20), ("bytes=90-", 90, 100), ("bytes=-5", 95, 100),
    ("bytes=0-0", 0, 1), ("bytes=95-1000", 95, 100), ("bytes=-500", 0, 100),
])
def test_a_range_is_answered_with_206(owner: User, hundred: tuple[int, bytes], header: str,
                                      start: int, end: int) -> None:
    attachment_id, data = hundred
    response = download(owner, attachment_id, range=header)
    assert response.status_code == 206
    assert response.content == data[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/100"
    assert response.headers["content-length"] == str(end - start)


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=1000-2000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(owner: User, hundred: tuple[int, bytes],
                                       header: str) -> None:
    response = download(owner, hundred[0], range=header)
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */100"
    assert response.headers["content-type"] == "application/problem+json"
    assert "100 bytes" in response.json()["detail"]


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=x-y"])
def test_ranges_we_do_not_serve_get_the_whole_file(owner: User, hundred: tuple[int, bytes],
                                                   header: str) -> None:
    response = download(owner, hundred[0], range=header)
    assert response.status_code == 200
    assert response.content == hundred[1]


def test_if_range_and_if_none_match_use_the_sha256(owner: User,
                                                   hundred: tuple[int, bytes]) -> None:
    attachment_id, data = hundred
    etag = f'"{sha256(data)}"'
    resumed = download(owner, attachment_id, range="bytes=50-", **{"if-range": etag})
    assert resumed.status_code == 206 and resumed.content == data[50:]
    changed = download(owner, attachment_id, range="bytes=50-", **{"if-range": '"other"'})
    assert changed.status_code == 200 and changed.content == data
    cached = download(owner, attachment_id, **{"if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    head = owner.client.head(f"/api/v1/attachments/{attachment_id}")
    assert head.status_code == 200
    assert head.headers["content-length"] == "100" and head.content == b""


# --- permissions -----------------------------------------------------------------------------


def test_members_read_editors_write_others_see_nothing(
        server: Server, owner: User, make_user: Any, project: dict[str, Any]) -> None:
    viewer, editor, outsider = make_user("viewer"), make_user("editor"), make_user("outsider")
    add_member(owner, project["id"], viewer, "viewer")
    add_member(owner, project["id"], editor, "editor")
    task = new_task(owner, project)
    (mine,) = upload(owner, task["id"], ("plan.txt", b"the plan")).json()

    assert download(viewer, mine["id"]).content == b"the plan"
    assert len(viewer.client.get(f"/api/v1/tasks/{task['id']}/attachments").json()) == 1
    refused = upload(viewer, task["id"], ("v.txt", b"no"))
    assert refused.status_code == 403
    assert viewer.client.delete(f"/api/v1/attachments/{mine['id']}").status_code == 403

    missing = outsider.client.get("/api/v1/attachments/999999999")
    for response in (download(outsider, mine["id"]),
                     outsider.client.get(f"/api/v1/tasks/{task['id']}/attachments"),
                     upload(outsider, task["id"], ("o.txt", b"no")),
                     outsider.client.delete(f"/api/v1/attachments/{mine['id']}"),
                     outsider.client.get(f"/api/v1/attachments/{mine['id']}",
                                         headers={"range": "bytes=0-1"})):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert download(outsider, mine["id"]).json()["detail"] == missing.json()["detail"]

    (theirs,) = upload(editor, task["id"], ("e.txt", b"editor's")).json()
    assert editor.client.delete(f"/api/v1/attachments/{mine['id']}").status_code == 204
    assert [r["id"] for r in attachment_rows(server, task["id"])] == [theirs["id"]]


# --- bad input -------------------------------------------------------------------------------


def _problem(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail


def test_bad_uploads_are_refused_with_a_reason(server: Server, owner: User,
                                               project: dict[str, Any]) -> None:
    task_id = new_task(owner, project)["id"]
    url = f"/api/v1/tasks/{task_id}/attachments"
    _problem(owner.client.post(url, json={"file": "x"}), 415, "multipart/form-data")
    _problem(owner.client.post(url, content=b"x", headers={
        "content-type": "multipart/form-data"}), 400, "boundary")
    _problem(owner.client.post(url, data={"note": "no file"}), 415, "multipart/form-data")
    _problem(post_raw(owner, task_id, multipart(("note", None, b"no file here"))), 422,
             "no file")
    _problem(post_raw(owner, task_id, multipart(("file", "", b""))), 422, "no file")
    many = multipart(*[("file", f"{i}.txt", b"x") for i in range(40)])
    _problem(post_raw(owner, task_id, many), 400, "more than 32 parts")
    huge_header = (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"f"
                   + b"x" * 40_000 + b"\"\r\n\r\ndata\r\n--" + BOUNDARY.encode() + b"--\r\n")
    _problem(post_raw(owner, task_id, huge_header), 400, "headers")
    _problem(post_raw(owner, task_id, b"not multipart at all"), 400, "malformed")
    cut = multipart(("file", "a.txt", b"abc"))[:-30]
    _problem(post_raw(owner, task_id, cut), 400, "ended before")
    not_utf8 = multipart(("file", b"caf\xe9.txt", b"abc"))
    _problem(post_raw(owner, task_id, not_utf8), 400, "malformed")
    _problem(owner.client.post("/api/v1/tasks/999999999/attachments",
                               files={"file": ("a", b"a")}), 404, "task")
    assert attachment_rows(server, task_id) == []
    assert spools(server) == []
