"""The blob store in an S3-compatible bucket: `<prefix>sha256/ab/cd/abcd…` as keys.

Uploads are spooled to a local file first (as for the local store), then sent from
that file: in one PUT when small, else as a multipart upload whose parts are read
from the file as they are sent, so memory stays flat whatever the file's size. Every
PUT carries the SHA-256 of its bytes (`x-amz-checksum-sha256`), which the server
checks: the whole file's for a single PUT, each part's for a multipart upload. A
failed multipart upload is aborted. The bucket is the only shared state: any number
of processes on any number of hosts can use the same bucket and prefix.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import math
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import anyio
import anyio.to_thread
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from tasklette.blobs import spool as spools
from tasklette.blobs.spool import Spool
from tasklette.blobs.store import (
    SHA256_HEX,
    BlobMissing,
    BlobStat,
    BlobStoreUnavailable,
    check_sha256,
    spool_and_put,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
WRITE_BATCH = 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part (but the last)
MAX_PARTS = 10_000  # S3's most parts in one upload
STALE_UPLOAD = timedelta(days=1)
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3StoreError(BlobStoreUnavailable):
    """The bucket cannot be used (it does not exist, or the credentials are refused)."""


def _b64_sha256(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _hash_range(path: Path, offset: int, length: int) -> str:
    """The base64 SHA-256 of `length` bytes of `path` from `offset` (a part's checksum)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        file.seek(offset)
        left = length
        while left:
            chunk = file.read(min(WRITE_BATCH, left))
            if not chunk:
                raise OSError(f"{path} ended {left} bytes early")
            digest.update(chunk)
            left -= len(chunk)
    return base64.b64encode(digest.digest()).decode()


class FileWindow(io.RawIOBase):
    """`length` bytes of a file from `offset`, as a seekable stream starting at 0.

    The body of one PUT: the HTTP client reads it a chunk at a time (in a worker
    thread) and rewinds it to 0 to retry. It has no `fileno`, so that its length is
    taken from `__len__`, not from the whole file's size.
    """

    def __init__(self, path: Path, offset: int, length: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._offset = offset
        self._length = length
        self._position = 0

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._length - self._position)
        if wanted <= 0:
            return 0
        self._file.seek(self._offset + self._position)
        got = self._file.readinto(view[:wanted])
        self._position += got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


class S3BlobStore:
    """Blobs as objects in `bucket` under `prefix`; spools in the local `tmp` directory."""

    def __init__(self, client: S3Client, exits: contextlib.AsyncExitStack, bucket: str,
                 prefix: str, tmp: Path, part_size: int = PART_SIZE) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"a part is at least {MIN_PART_SIZE} bytes, not {part_size}")
        self.client = client
        self._exits = exits
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.tmp = tmp
        self.part_size = part_size

    @classmethod
    async def open(cls, *, bucket: str, tmp: Path, prefix: str = "",
                   endpoint_url: str = "", region: str = "us-east-1",
                   access_key_id: str = "", secret_access_key: str = "",
                   addressing_style: str = "auto", max_connections: int = 100,
                   part_size: int = PART_SIZE) -> S3BlobStore:
        """Connect to the bucket (checking that it can be reached) and sweep stale spools.

        Without an access key, credentials are found as the AWS SDKs find them (the
        AWS_* variables, ~/.aws, an instance or task role).
        """
        config = AioConfig(
            region_name=region, max_pool_connections=max_connections,
            retries={"mode": "standard"},
            # The bodies are hashed here (in a worker thread) and sent with their
            # SHA-256 as x-amz-checksum-sha256, which the server checks. Left to
            # itself, botocore would hash each body again, on the event loop, to sign
            # it, and add CRC32 trailers that not every S3-compatible server accepts.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": addressing_style, "payload_signing_enabled": False},
        )
        exits = contextlib.AsyncExitStack()
        client = await exits.enter_async_context(get_session().create_client(
            "s3", endpoint_url=endpoint_url or None, config=config,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None))
        store = cls(client, exits, bucket, prefix, tmp, part_size)
        try:
            try:
                await client.head_bucket(Bucket=bucket)
            except (ClientError, BotoCoreError) as exc:
                raise S3StoreError(f"the S3 bucket {bucket!r} cannot be used: "
                                   f"{_describe(exc)}") from None
            await anyio.to_thread.run_sync(lambda: tmp.mkdir(parents=True, exist_ok=True))
            await store.sweep()
        except BaseException:
            await store.close()
            raise
        return store

    def key(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.prefix}sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    # --- writing -------------------------------------------------------------------

    async def open_spool(self) -> Spool:
        return await Spool.create(self.tmp)

    async def put_spool(self, spool: Spool) -> bool:
        if spool.placed:
            # Put before, in a transaction that was rolled back and is now retried.
            if await self.stat(spool.sha256) is None:
                raise BlobMissing(spool.sha256)
            return False
        stored = await self.stat(spool.sha256)
        new = stored is None or stored.size != spool.size  # a wrong size: put it again
        if new and spool.size <= self.part_size:
            await self._put_whole(self.key(spool.sha256), spool)
        elif new:
            await self._put_in_parts(self.key(spool.sha256), spool)
        # The spool stays open (and locked, so no sweep takes it) until it is sent.
        await anyio.to_thread.run_sync(spool.remove)
        spool.placed = True
        return new

    async def _put_whole(self, key: str, spool: Spool) -> None:
        body = await anyio.to_thread.run_sync(FileWindow, spool.path, 0, spool.size)
        try:
            await self.client.put_object(
                Bucket=self.bucket, Key=key, Body=cast(IO[bytes], body) if spool.size else b"",
                ContentLength=spool.size, ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64_sha256(spool.sha256),
                ContentType="application/octet-stream")
        finally:
            body.close()

    async def _put_in_parts(self, key: str, spool: Spool) -> None:
        part_size = max(self.part_size, math.ceil(spool.size / MAX_PARTS))
        upload = await self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256",
            ContentType="application/octet-stream")
        upload_id = upload["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            for number, offset in enumerate(range(0, spool.size, part_size), start=1):
                length = min(part_size, spool.size - offset)
                checksum = await anyio.to_thread.run_sync(
                    _hash_range, spool.path, offset, length)
                body = await anyio.to_thread.run_sync(FileWindow, spool.path, offset, length)
                try:
                    sent = await self.client.upload_part(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                        Body=cast(IO[bytes], body), ContentLength=length, ChecksumSHA256=checksum)
                finally:
                    body.close()
                parts.append({"PartNumber": number, "ETag": sent["ETag"],
                              "ChecksumSHA256": checksum})
            await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> BlobStat:
        return await spool_and_put(self, chunks)

    # --- reading -------------------------------------------------------------------

    async def read(self, sha256: str, start: int = 0,
                   end: int | None = None) -> AsyncIterator[bytes]:
        key = self.key(sha256)
        if end is not None and end <= start:
            if await self.stat(sha256) is None:
                raise BlobMissing(sha256)
            return
        try:
            if start == 0 and end is None:
                response = await self.client.get_object(Bucket=self.bucket, Key=key)
            else:
                response = await self.client.get_object(
                    Bucket=self.bucket, Key=key,
                    Range=f"bytes={start}-{'' if end is None else end - 1}")
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise BlobMissing(sha256) from None
            if _code(exc) == "InvalidRange":  # `start` is at or past the end
                return
            raise
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(READ_CHUNK):
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await body.aclose()

    async def stat(self, sha256: str) -> BlobStat | None:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return BlobStat(sha256, head["ContentLength"])

    async def delete(self, sha256: str) -> bool:
        # DeleteObject succeeds whether or not there was an object: ask first.
        if await self.stat(sha256) is None:
            return False
        await self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        return True

    async def iterate(self) -> AsyncIterator[BlobStat]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + "sha256/")
        async for page in pages:
            for found in page.get("Contents", []):
                name = found["Key"].rsplit("/", 1)[-1]
                if SHA256_HEX.fullmatch(name) and found["Key"] == self.key(name):
                    yield BlobStat(name, found["Size"])

    async def sweep(self) -> int:
        """Remove stale local spools, and abort multipart uploads over a day old."""
        removed = await anyio.to_thread.run_sync(spools.sweep, self.tmp)
        return removed + await self._abort_stale_uploads()

    async def _abort_stale_uploads(self) -> int:
        # Only uploads far older than any upload takes: another process may be sending
        # one right now. A bucket lifecycle rule does the same, where there is one.
        cutoff = datetime.now(UTC) - STALE_UPLOAD
        aborted = 0
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.prefix + "sha256/")
            async for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        await self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                        aborted += 1
        except ClientError as exc:  # not every S3-compatible server lists uploads
            log.warning("could not look for stale multipart uploads in %r: %s",
                        self.bucket, _describe(exc))
        return aborted

    async def close(self) -> None:
        """Close the client and its connections."""
        await self._exits.aclose()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, BotoCoreError):
        return str(exc)
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    return f"{error.get('Code', '?')} (HTTP {status}) {error.get('Message', '')}".rstrip()
