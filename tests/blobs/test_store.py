"""The blob stores' shared contract (local directory and S3 bucket), and the spools."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tasklette.blobs.local import LocalBlobStore
from tasklette.blobs.s3 import S3BlobStore
from tasklette.blobs.sniff import TEXT, sniff
from tasklette.blobs.store import BlobMissing, BlobStat, BlobStore
from tests.blobs.test_s3 import (
    S3Server,
    open_s3,
    s3_server,  # noqa: F401 (the fixture of the S3 cases)
)

Opener = Callable[[], Awaitable[BlobStore]]


@pytest.fixture(params=["local", "s3"])
def open_blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens a store of each kind, rooted at `tmp_path/blobs`, spooling in its `tmp`."""
    if request.param == "local":
        return lambda: LocalBlobStore.open(tmp_path / "blobs")
    s3: S3Server = request.getfixturevalue("s3_server")
    bucket = s3.new_bucket()
    return lambda: open_s3(s3, bucket, tmp_path / "blobs" / "tmp")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(store: BlobStore, sha256: str, start: int = 0,
                end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(sha256, start, end)])


async def _is_stored_at_its_digest(store: BlobStore, digest: str) -> bool:
    if isinstance(store, LocalBlobStore):
        return store.path(digest).is_file() and store.path(digest) == (
            store.root / "sha256" / digest[:2] / digest[2:4] / digest)
    assert isinstance(store, S3BlobStore)
    key = f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    listed = await store.client.list_objects_v2(Bucket=store.bucket, Prefix=key)
    return [item["Key"] for item in listed.get("Contents", [])] == [key]


def test_put_read_stat_iterate_delete(open_blobs: Opener, tmp_path: Path) -> None:
    async def main() -> None:
        store = await open_blobs()
        try:
            await _contract(store)
        finally:
            await store.close()

    async def _contract(store: BlobStore) -> None:
        data = os.urandom(700_000)
        digest = hashlib.sha256(data).hexdigest()
        stat = await store.put_stream(_chunks(data[:1000], data[1000:]))
        assert stat == BlobStat(digest, len(data))
        assert await _is_stored_at_its_digest(store, digest)
        assert await _read(store, digest) == data
        assert await _read(store, digest, 10, 20) == data[10:20]
        assert await _read(store, digest, 699_990) == data[699_990:]
        assert await _read(store, digest, 700_000) == b""
        assert await _read(store, digest, 5, 5) == b""
        assert await store.stat(digest) == stat
        again = await store.put_stream(_chunks(data))  # the same bytes: stored once
        assert again == stat
        spool = await store.open_spool()
        await spool.write([data])
        await spool.finish()
        assert await store.put_spool(spool) is False
        assert spool.placed and not spool.path.exists()
        assert await store.put_spool(spool) is False  # a retried transaction puts it again
        empty = await store.put_stream(_chunks())
        assert empty.size == 0
        assert await _read(store, empty.sha256) == b""
        assert sorted([blob async for blob in store.iterate()],
                      key=lambda b: b.size) == [empty, stat]
        assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
        assert await store.delete(digest) is True
        assert await store.delete(digest) is False
        assert await store.stat(digest) is None
        with pytest.raises(BlobMissing):
            await _read(store, digest)
        with pytest.raises(BlobMissing):
            await store.put_spool(spool)  # placed, then removed by someone else
        with pytest.raises(ValueError):
            await store.stat("../../etc/passwd")

    asyncio.run(main())


def test_a_discarded_spool_leaves_nothing(open_blobs: Opener) -> None:
    async def main() -> None:
        store = await open_blobs()
        spool = await store.open_spool()
        await spool.write([b"half an upload"])
        assert spool.path.is_file()
        await spool.discard()
        assert not spool.path.exists()
        await store.close()

    asyncio.run(main())


def test_opening_the_store_sweeps_stale_spools_but_not_live_ones(open_blobs: Opener,
                                                                 tmp_path: Path) -> None:
    async def open_and_close() -> None:
        await (await open_blobs()).close()

    tmp = tmp_path / "blobs" / "tmp"
    tmp.mkdir(parents=True)
    stale = tmp / "upload-crashed.part"
    stale.write_bytes(b"left by a crash")
    live = tmp / "upload-live.part"
    live.write_bytes(b"being written by another process")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as the writing process holds it
    try:
        asyncio.run(open_and_close())
        assert not stale.exists()
        assert live.exists()
    finally:
        os.close(fd)
    asyncio.run(open_and_close())
    assert not live.exists()


@pytest.mark.parametrize(("head", "expected"), [
    (b"\x89PNG\r\n\x1a\n....", "image/png"), (b"\xff\xd8\xff\xe0", "image/jpeg"),
    (b"GIF89a", "image/gif"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"\x00\x00\x00\x20ftypavif", "image/avif"), (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
    (b"%PDF-1.7", "application/pdf"), (b"PK\x03\x04", "application/zip"),
    (b"\x1a\x45\xdf\xa3....webm", "video/webm"), (b"ID3\x04", "audio/mpeg"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", TEXT), ("caf\u00e9 \u2603".encode(), TEXT),
    ("\u2603".encode()[:2], TEXT),  # a character cut by the end of the head
    (b"\x00\x01binary", "application/octet-stream"), (b"", "application/octet-stream"),
    (b"\xc3\x28 not utf-8", "application/octet-stream"),
])
def test_sniffing(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


def test_a_large_spool_is_written_whole_in_order(tmp_path: Path) -> None:
    """Through the spool's queue and thread, with writeback started along the way."""
    blocks = [os.urandom(64 * 1024) + bytes([i % 256]) for i in range(400)]  # 25 MiB

    async def main() -> None:
        store = await LocalBlobStore.open(tmp_path / "blobs")
        spool = await store.open_spool()
        for i in range(0, len(blocks), 3):
            await spool.write(blocks[i:i + 3])
        await spool.finish()
        data = b"".join(blocks)
        assert (spool.size, spool.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert spool.head == data[:4096]
        assert spool.path.read_bytes() == data
        await spool.discard()

    asyncio.run(main())
