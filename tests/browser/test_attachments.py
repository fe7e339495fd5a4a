"""Attaching files in the task dialog: pick or drop them, watch them upload, see them listed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import api_get, create_project, save_screenshot, unique
from tests.browser.test_board import quick_add

PNG_1PX = bytes.fromhex(  # a 1x1 blue PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408"
    "d763606060f80f00010401007a6b87e80000000049454e44ae426082")


def open_task(page: Page, title: str) -> tuple[int, Any]:
    project_id = create_project(page, unique("Files"))
    task_id = quick_add(page, "To do", title)
    page.locator(f".card[data-task-id='{task_id}']").click()
    dialog = page.locator("dialog#task-dialog")
    expect(dialog.locator(f"#task-detail[data-task-id='{task_id}']")).to_be_visible()
    assert project_id
    return task_id, dialog


def throttle_uploads(page: Page, bytes_per_second: int) -> None:
    """Slow the page's uploads down (Chromium's network emulation), to watch them."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second})


def test_upload_through_the_dialog_with_progress(signed_in: Page, tmp_path: Path) -> None:
    page = signed_in
    task_id, dialog = open_task(page, "Ship the release notes")
    big = tmp_path / "release-notes.bin"
    big.write_bytes(bytes(range(256)) * 8192)  # 2 MiB
    throttle_uploads(page, 1024 * 1024)

    dialog.locator(".attachment-input").set_input_files(str(big))
    item = dialog.locator(".upload-list .upload", has_text="release-notes.bin")
    expect(item).to_be_visible()
    expect(item.locator(".upload-bar")).to_be_visible()
    # Part-way: a percentage between 1 and 99 and a speed.
    expect(item.locator(".upload-percent")).to_have_text(re.compile(r"^([1-9]|[1-9][0-9])%$"))
    expect(item.locator(".upload-speed")).to_contain_text("/s")
    save_screenshot(page, "attachments-uploading.png")
    expect(item).to_have_class(re.compile(r"\bdone\b"), timeout=15_000)
    expect(item.locator(".upload-status")).to_contain_text("Uploaded 2 MiB")

    listed = dialog.locator(".attachment-list .attachment", has_text="release-notes.bin")
    expect(listed).to_be_visible()
    expect(listed.locator(".attachment-size")).to_have_text("2 MiB")
    expect(listed.locator(".attachment-name")).to_have_attribute(
        "title", re.compile(r"SHA-256 [0-9a-f]{64}"))
    card = page.locator(f".card[data-task-id='{task_id}']")
    expect(card.locator(".badge.attachments")).to_have_text("1")
    save_screenshot(page, "attachments-dialog.png")

    (stored,) = api_get(page, f"/api/v1/tasks/{task_id}/attachments")
    assert stored["size"] == 2 * 1024 * 1024 and stored["filename"] == "release-notes.bin"
    downloaded = page.request.get(f"/attachments/{stored['id']}")
    assert downloaded.body() == big.read_bytes()


def test_drop_an_image_see_its_thumbnail_then_delete_it(signed_in: Page) -> None:
    page = signed_in
    task_id, dialog = open_task(page, "Logo options")
    files = page.evaluate_handle("""(png) => {
        const data = new DataTransfer();
        const bytes = new Uint8Array(png.match(/../g).map((h) => parseInt(h, 16)));
        data.items.add(new File([bytes], "logo.png", { type: "image/png" }));
        return data;
    }""", PNG_1PX.hex())
    detail = dialog.locator("#task-detail")
    detail.dispatch_event("dragover", {"dataTransfer": files})
    expect(dialog.locator("[data-attachments]")).to_have_class(re.compile(r"\bdropping\b"))
    detail.dispatch_event("drop", {"dataTransfer": files})

    listed = dialog.locator(".attachment-list .attachment", has_text="logo.png")
    expect(listed).to_be_visible()
    thumb = listed.locator(".attachment-thumb img")
    expect(thumb).to_be_visible()
    expect(thumb).to_have_js_property("naturalWidth", 1)  # decoded: the inline URL works
    expect(dialog.locator("[data-attachments]")).not_to_have_class(re.compile(r"dropping"))

    page.once("dialog", lambda confirm: confirm.accept())
    listed.get_by_role("button", name="Delete logo.png").click()
    expect(listed).to_have_count(0)
    assert api_get(page, f"/api/v1/tasks/{task_id}/attachments") == []


def test_a_refused_upload_shows_why_and_a_cancelled_one_leaves_nothing(
        signed_in: Page, tmp_path: Path) -> None:
    page = signed_in
    task_id, dialog = open_task(page, "Edge cases")
    nameless = page.evaluate_handle("""() => {
        const data = new DataTransfer();
        data.items.add(new File([], "", { type: "text/plain" }));
        return data;
    }""")
    dialog.locator("#task-detail").dispatch_event("drop", {"dataTransfer": nameless})
    failed = dialog.locator(".upload.failed")
    expect(failed.locator(".upload-status")).to_have_text(
        re.compile(r"^The request holds no file"))  # the server's problem detail

    # Over the limit: refused in the page, before a byte is sent.
    huge = tmp_path / "huge.iso"
    with huge.open("wb") as sparse:
        sparse.truncate(1024**3 + 1)  # sparse: takes no disk
    dialog.locator(".attachment-input").set_input_files(str(huge))
    too_big = dialog.locator(".upload.failed", has_text="huge.iso")
    expect(too_big.locator(".upload-status")).to_have_text(
        "“huge.iso” is too large: 1,073,741,825 bytes, and the limit is 1,073,741,824 "
        "bytes per file.")
    save_screenshot(page, "attachments-refused.png")

    slow = tmp_path / "slow.bin"
    slow.write_bytes(b"\x00" * (3 * 1024 * 1024))
    throttle_uploads(page, 256 * 1024)
    dialog.locator(".attachment-input").set_input_files(str(slow))
    item = dialog.locator(".upload", has_text="slow.bin")
    expect(item.locator(".upload-percent")).to_have_text(re.compile(r"^[1-9][0-9]?%$"))
    item.get_by_role("button", name="Cancel").click()
    expect(item.locator(".upload-status")).to_have_text("Cancelled.")
    assert api_get(page, f"/api/v1/tasks/{task_id}/attachments") == []
