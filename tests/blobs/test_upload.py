"""Reading a multipart body into spools: the same parts whatever its chunks, and
headers over the limit refused even when they come in one chunk with a part's body."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasklette.blobs.local import LocalBlobStore
from tasklette.blobs.upload import (
    MAX_PART_HEADER_BYTES,
    MultipartUpload,
    UploadLimits,
    UploadRefused,
)

BOUNDARY = "test-boundary-0123"
HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
LIMITS = UploadLimits(max_file_bytes=10**8, max_request_bytes=10**8, max_parts=32)


def _part(name: str, filename: str | None, data: bytes, extra: bytes = b"") -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode() + extra
            + b"\r\n" + data + b"\r\n")


def _body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def _chunks(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in [*cuts, len(body)]:
        if cut > start:
            yield body[start:cut]
            start = cut


async def _read(tmp_path: Path, body: bytes, cuts: list[int]) -> tuple[
        list[tuple[str | None, int, str, bytes]], dict[str, str]]:
    store = await LocalBlobStore.open(tmp_path / "blobs")
    async with MultipartUpload(store, HEADERS, LIMITS) as upload:
        form = await upload.read(_chunks(body, cuts))
        files = []
        for part in form.files:
            assert part.spool is not None
            files.append((part.filename, part.spool.size, part.spool.sha256,
                          part.spool.path.read_bytes()))
    return files, form.fields


# Bytes that look like the start of a delimiter, and a whole delimiter without its
# dashes, inside a file's body: the parser must keep them as data.
TRICKY = (b"\r\n--" + BOUNDARY[:-1].encode() + b"X\r\n-\r\n--\r" + os.urandom(3000)
          + b"\r\n" + BOUNDARY.encode())


def test_the_same_parts_whatever_the_chunks(tmp_path: Path) -> None:
    big = os.urandom(300_000) + TRICKY + os.urandom(70_000)
    body = _body(_part("csrf_token", None, b"token-value"),
                 _part("file", "big.bin", big),
                 _part("file", "empty.txt", b""),
                 _part("file", "small.txt", TRICKY))
    expected = [("big.bin", len(big), hashlib.sha256(big).hexdigest(), big),
                ("empty.txt", 0, hashlib.sha256(b"").hexdigest(), b""),
                ("small.txt", len(TRICKY), hashlib.sha256(TRICKY).hexdigest(), TRICKY)]
    delimiters = [i for i in range(len(body)) if body.startswith(b"\r\n--" + BOUNDARY.encode(), i)]
    chunkings = [
        [],  # one chunk
        list(range(1000, len(body), 1000)),
        list(range(65536, len(body), 65536)),
        list(range(7, len(body), 4099)),
    ]
    # A cut at every offset inside and around each delimiter.
    for at in delimiters:
        chunkings += [[at + offset - 20_000, at + offset] for offset in range(-2, 26)]
    for cuts in chunkings:
        files, fields = asyncio.run(_read(tmp_path, body, sorted(c for c in cuts if c > 0)))
        assert files == expected, cuts
        assert fields == {"csrf_token": "token-value"}


@pytest.mark.parametrize("cut_after", [None, 0, 3, 10])
def test_long_headers_after_a_body_in_the_same_chunk_are_refused(
        tmp_path: Path, cut_after: int | None) -> None:
    first = _part("file", "a.bin", os.urandom(200_000))
    second = _part("file", "b.bin", b"data",
                   extra=b"X-Long: " + b"y" * (MAX_PART_HEADER_BYTES + 20_000) + b"\r\n")
    body = _body(first, second)
    # Fed whole, or cut a few bytes into the delimiter that starts the second part (so
    # that the chunk with the headers starts with the rest of the delimiter) and before
    # the closing one (so that it holds no whole delimiter).
    cuts = [] if cut_after is None else [100_000, len(first) - 2 + cut_after,
                                         len(first) + len(second) - 8]
    with pytest.raises(UploadRefused, match="headers"):
        asyncio.run(_read(tmp_path, body, cuts))
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_the_parser_is_imported_with_the_first_upload_only() -> None:
    """streaming-form-data brings smart_open and boto3 (37 MiB): not at start."""
    code = ("import sys, tasklette.app, tasklette.api.attachments, tasklette.web.attachments;"
            "print(sorted({'streaming_form_data', 'smart_open', 'boto3'} & set(sys.modules)))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert shown == "[]"
