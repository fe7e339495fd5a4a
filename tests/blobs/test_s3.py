"""The S3 blob store against a real S3-compatible server (moto's, run as a subprocess).

`S3Server` and the `s3_server` fixture are imported by the other tests that need a
bucket (tests/blobs/test_store.py, tests/api/test_attachments_s3.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tasklette.blobs import s3 as s3_module
from tasklette.blobs.open import open_store
from tasklette.blobs.s3 import MIN_PART_SIZE, S3BlobStore, S3StoreError
from tasklette.blobs.spool import Spool
from tasklette.blobs.store import BlobMissing, BlobStat
from tasklette.settings import SettingsError, load_settings
from tests.conftest import free_port

MiB = 1024 * 1024
_buckets = itertools.count(1)


class S3Server:
    """moto's S3 server in a subprocess on a free port (its memory is not ours)."""

    access_key_id = "testing"
    secret_access_key = "testing"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url + "/moto-api/", timeout=5)
                break
            except httpx.TransportError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the S3 test server did not start") from None
                time.sleep(0.05)
        self.client = boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key)

    def new_bucket(self) -> str:
        """A new, empty bucket of its own for one test."""
        name = f"tasklette-test-{os.getpid()}-{next(_buckets)}"
        self.client.create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str, **more: Any) -> dict[str, Any]:
        """Tasklette settings that put blobs in `bucket`."""
        return {"blob_store": "s3", "s3_endpoint_url": self.url, "s3_bucket": bucket,
                "s3_access_key_id": self.access_key_id,
                "s3_secret_access_key": self.secret_access_key, **more}

    def keys(self, bucket: str) -> dict[str, int]:
        """Every object in `bucket`: key to size."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}

    def uploads(self, bucket: str) -> list[str]:
        """Keys of the multipart uploads in progress in `bucket`."""
        found = self.client.list_multipart_uploads(Bucket=bucket)
        return [upload["Key"] for upload in found.get("Uploads", [])]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    yield server
    server.stop()


async def open_s3(s3: S3Server, bucket: str, tmp: Path, **options: Any) -> S3BlobStore:
    return await S3BlobStore.open(
        bucket=bucket, tmp=tmp, endpoint_url=s3.url, access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key, **options)


def key_of(digest: str, prefix: str = "") -> str:
    return f"{prefix}sha256/{digest[:2]}/{digest[2:4]}/{digest}"


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(store: S3BlobStore, sha256: str, start: int = 0,
                end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(sha256, start, end)])


def _file(path: Path, size: int) -> bytes:
    """Write `size` random bytes to `path` a MiB at a time; their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for offset in range(0, size, MiB):
            block = os.urandom(min(MiB, size - offset))
            digest.update(block)
            file.write(block)
    return digest.digest()


async def _spool_of(store: S3BlobStore, source: Path) -> Spool:
    """A finished spool with the bytes of `source`, written a MiB at a time."""
    spool = await store.open_spool()
    with source.open("rb") as file:
        while block := file.read(MiB):
            await spool.write([block])
    await spool.finish()
    return spool


# --- multipart uploads ---------------------------------------------------------------------


def test_a_multipart_upload_round_trips_byte_exact(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    data = os.urandom(20 * MiB + 12_345)  # four parts of 5 MiB and a short last one
    digest = hashlib.sha256(data).hexdigest()

    async def main() -> None:
        store = await open_s3(s3_server, bucket, tmp_path, part_size=MIN_PART_SIZE)
        try:
            stat = await store.put_stream(_chunks(data[:3 * MiB], data[3 * MiB:]))
            assert stat == BlobStat(digest, len(data))
            assert await _read(store, digest) == data
            for start, end in [(0, 1), (5 * MiB - 3, 5 * MiB + 3), (19 * MiB, None),
                               (len(data) - 1, len(data)), (123, 10 * MiB + 7)]:
                assert await _read(store, digest, start, end) == data[start:end], (start, end)
            assert await _read(store, digest, len(data)) == b""
            assert await _read(store, digest, 50, 50) == b""
            again = await store.put_stream(_chunks(data))
            assert again == stat
        finally:
            await store.close()

    asyncio.run(main())
    assert s3_server.keys(bucket) == {key_of(digest): len(data)}
    assert s3_server.uploads(bucket) == []
    # Each part went with its SHA-256: the server's checksum of the object is theirs.
    parts = b"".join(hashlib.sha256(data[offset:offset + MIN_PART_SIZE]).digest()
                     for offset in range(0, len(data), MIN_PART_SIZE))
    head = s3_server.client.head_object(Bucket=bucket, Key=key_of(digest),
                                        ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].split("-")[0] == base64.b64encode(
        hashlib.sha256(parts).digest()).decode()
    assert list(tmp_path.iterdir()) == []


def test_a_small_file_is_one_put_carrying_its_sha256(s3_server: S3Server,
                                                     tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    data = os.urandom(100_000)
    digest = hashlib.sha256(data)

    async def main() -> None:
        store = await open_s3(s3_server, bucket, tmp_path)
        try:
            await store.put_stream(_chunks(data))
        finally:
            await store.close()

    asyncio.run(main())
    head = s3_server.client.head_object(Bucket=bucket, Key=key_of(digest.hexdigest()),
                                        ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(digest.digest()).decode()
    assert head["ContentLength"] == len(data)


def test_a_failed_multipart_upload_is_aborted(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()

    async def main() -> None:
        store = await open_s3(s3_server, bucket, tmp_path / "spools", part_size=MIN_PART_SIZE)
        try:
            source = tmp_path / "source"
            _file(source, 12 * MiB)
            spool = await _spool_of(store, source)
            # The file loses its end after hashing: the second part cannot be read.
            os.truncate(spool.path, 7 * MiB)
            with pytest.raises(OSError, match="ended"):
                await store.put_spool(spool)
            assert not spool.placed
            await spool.discard()
            assert await store.stat(spool.sha256) is None
        finally:
            await store.close()

    asyncio.run(main())
    assert s3_server.uploads(bucket) == []
    assert s3_server.keys(bucket) == {}


def test_memory_stays_flat_while_a_large_file_is_put(s3_server: S3Server,
                                                     tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    size = 64 * MiB
    source = tmp_path / "source"
    digest = _file(source, size).hex()
    peaks: list[int] = []

    async def main() -> None:
        # Parts of the default 16 MiB: a part is never held in memory either.
        store = await open_s3(s3_server, bucket, tmp_path / "spools")
        try:
            spool = await _spool_of(store, source)
            tracemalloc.start()
            try:
                assert await store.put_spool(spool) is True
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            assert await store.stat(digest) == BlobStat(digest, size)
        finally:
            await store.close()

    asyncio.run(main())
    print(f"peak traced memory while putting {size // MiB} MiB: {peaks[0] / MiB:.2f} MiB")
    assert peaks[0] < 4 * MiB, f"{peaks[0] / MiB:.1f} MiB held to put a {size // MiB} MiB file"
    assert s3_server.keys(bucket) == {key_of(digest): size}


# --- sharing a bucket ---------------------------------------------------------------------


def test_two_hosts_share_one_bucket(s3_server: S3Server, tmp_path: Path) -> None:
    """Nothing but the bucket is shared: each host spools to its own disk."""
    bucket = s3_server.new_bucket()
    data = os.urandom(50_000)
    digest = hashlib.sha256(data).hexdigest()

    async def main() -> None:
        one = await open_s3(s3_server, bucket, tmp_path / "one", prefix="team/")
        two = await open_s3(s3_server, bucket, tmp_path / "two", prefix="team")
        other = await open_s3(s3_server, bucket, tmp_path / "three")  # no prefix
        try:
            assert await one.put_stream(_chunks(data)) == BlobStat(digest, len(data))
            assert await _read(two, digest, 100, 200) == data[100:200]
            spool = await two.open_spool()
            await spool.write([data])
            await spool.finish()
            assert await two.put_spool(spool) is False  # stored by the other host
            assert [blob async for blob in two.iterate()] == [BlobStat(digest, len(data))]
            assert [blob async for blob in other.iterate()] == []
            assert await other.stat(digest) is None
            assert await two.delete(digest) is True
            assert await one.stat(digest) is None
            assert await one.delete(digest) is False
        finally:
            for store in (one, two, other):
                await store.close()

    asyncio.run(main())
    assert s3_server.keys(bucket) == {}


def test_iterate_pages_through_many_blobs(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    blobs = [os.urandom(16) for _ in range(1005)]  # more than one page of 1000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda blob: s3_server.client.put_object(
            Bucket=bucket, Key=key_of(hashlib.sha256(blob).hexdigest()), Body=blob), blobs))
    # Not blobs: another layout, or a name that is no digest.
    s3_server.client.put_object(Bucket=bucket, Key="sha256/notes.txt", Body=b"x")
    s3_server.client.put_object(Bucket=bucket, Key=f"sha256/{'a' * 64}", Body=b"x")

    async def main() -> list[BlobStat]:
        store = await open_s3(s3_server, bucket, tmp_path)
        try:
            return [blob async for blob in store.iterate()]
        finally:
            await store.close()

    found = asyncio.run(main())
    assert sorted(blob.sha256 for blob in found) == sorted(
        hashlib.sha256(blob).hexdigest() for blob in blobs)
    assert {blob.size for blob in found} == {16}


def test_reading_a_missing_blob(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()

    async def main() -> None:
        store = await open_s3(s3_server, bucket, tmp_path)
        try:
            for start, end in [(0, None), (5, 10), (3, 3)]:
                with pytest.raises(BlobMissing):
                    await _read(store, "0" * 64, start, end)
            with pytest.raises(ValueError):
                store.key("../../etc/passwd")
        finally:
            await store.close()

    asyncio.run(main())


# --- sweeping and opening ------------------------------------------------------------------


def test_sweep_aborts_stale_multipart_uploads_only(s3_server: S3Server, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_server.new_bucket()
    s3_server.client.create_multipart_upload(Bucket=bucket, Key=key_of("ab" * 32))
    s3_server.client.create_multipart_upload(Bucket=bucket, Key="elsewhere/not-ours")

    async def sweep() -> int:
        store = await open_s3(s3_server, bucket, tmp_path)  # sweeps on opening
        try:
            return await store.sweep()
        finally:
            await store.close()

    # moto says every upload began in 2010: an age of 50 years makes it a fresh one.
    monkeypatch.setattr(s3_module, "STALE_UPLOAD", timedelta(days=365 * 50))
    assert asyncio.run(sweep()) == 0  # another host may be sending it
    assert len(s3_server.uploads(bucket)) == 2
    monkeypatch.undo()
    assert asyncio.run(sweep()) == 0  # aborted on opening, by the store's own sweep
    assert s3_server.uploads(bucket) == ["elsewhere/not-ours"]


def test_a_bucket_that_cannot_be_used_is_a_clear_error(s3_server: S3Server,
                                                       tmp_path: Path) -> None:
    with pytest.raises(S3StoreError, match=r"no-such-bucket-here.*404"):
        asyncio.run(open_s3(s3_server, "no-such-bucket-here", tmp_path))
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(S3StoreError, match="Could not connect"):
        asyncio.run(S3BlobStore.open(bucket="files", tmp=tmp_path, endpoint_url=nobody,
                                     access_key_id="a", secret_access_key="b"))


def test_the_settings_choose_the_store(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    settings = load_settings({}, data_dir=tmp_path, **s3_server.settings(bucket))

    async def main() -> None:
        store = await open_store(settings)
        try:
            assert isinstance(store, S3BlobStore)
            assert store.tmp == tmp_path / "blobs" / "tmp"
            await store.put_stream(_chunks(b"hello"))
        finally:
            await store.close()

    asyncio.run(main())
    assert list(s3_server.keys(bucket).values()) == [5]


@pytest.mark.parametrize(("environ", "message"), [
    ({"TASKLETTE_BLOB_STORE": "s3"}, "needs a bucket"),
    ({"TASKLETTE_BLOB_STORE": "ftp"}, "expected local or s3"),
    ({"TASKLETTE_S3_ENDPOINT_URL": "minio:9000"}, "http:// or https://"),
    ({"TASKLETTE_S3_ADDRESSING_STYLE": "dns"}, "auto, path or virtual"),
    ({"TASKLETTE_BLOB_STORE": "s3", "TASKLETTE_S3_BUCKET": "b",
      "TASKLETTE_S3_ACCESS_KEY_ID": "AKIA"}, "set both, or neither"),
])
def test_s3_settings_are_checked(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_s3_settings_are_read_and_the_secret_masked() -> None:
    settings = load_settings({
        "TASKLETTE_BLOB_STORE": "S3", "TASKLETTE_S3_BUCKET": "files",
        "TASKLETTE_S3_ENDPOINT_URL": "http://127.0.0.1:9000", "TASKLETTE_S3_PREFIX": "t/",
        "TASKLETTE_S3_ACCESS_KEY_ID": "AKIA", "TASKLETTE_S3_SECRET_ACCESS_KEY": "hunter2",
        "TASKLETTE_S3_ADDRESSING_STYLE": "path"})
    assert (settings.blob_store, settings.s3_bucket, settings.s3_prefix,
            settings.s3_region, settings.s3_addressing_style) == (
        "s3", "files", "t/", "us-east-1", "path")
    shown = {name: value for name, _, value in settings.describe()}
    assert shown["s3_secret_access_key"] == "********"
    assert "hunter2" not in str(settings.describe())
    assert load_settings({}).blob_store == "local"
