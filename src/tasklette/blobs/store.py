"""What every blob store offers: bytes kept under their SHA-256, streamed in and out.

The local directory store (`blobs.local`) is the one there is; the interface is
asynchronous and streaming throughout so that an S3-compatible store (PUT from
the spool, GET with a Range, HEAD, DELETE, LIST) can stand in for it without
changing its callers. Uploads are always spooled to a local temporary file first:
the SHA-256, and so the blob's name, is known only once the last byte is in.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from tasklette.blobs.spool import Spool

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BlobStat:
    sha256: str
    size: int


class BlobStoreUnavailable(RuntimeError):
    """The configured store cannot be used (e.g. no such bucket, credentials refused)."""


class BlobMissing(Exception):
    """The store holds no blob with this SHA-256."""


def check_sha256(sha256: str) -> str:
    """`sha256` when it is 64 lowercase hex digits (it names files); ValueError otherwise."""
    if not SHA256_HEX.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 in hex: {sha256[:80]!r}")
    return sha256


class BlobStore(Protocol):
    """Content-addressed bytes. Putting the same bytes twice stores them once."""

    async def open_spool(self) -> Spool:
        """A new temporary file to receive an upload; `put_spool` or `discard` it."""
        ...

    async def put_spool(self, spool: Spool) -> bool:
        """Store a finished spool under its SHA-256; False when those bytes were stored."""
        ...

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> BlobStat:
        """Store the bytes of `chunks` (spooled, hashed, then put); what was stored."""
        ...

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes from `start` up to (not including) `end`, in chunks; BlobMissing."""
        ...

    async def stat(self, sha256: str) -> BlobStat | None:
        """The blob's size, or None when there is no such blob."""
        ...

    async def delete(self, sha256: str) -> bool:
        """Remove the blob; False when there was none."""
        ...

    def iterate(self) -> AsyncIterator[BlobStat]:
        """Every stored blob, in no particular order."""
        ...

    async def sweep(self) -> int:
        """Remove temporary files left by a crash; how many were removed."""
        ...

    async def close(self) -> None: ...


STREAM_BATCH = 1024 * 1024  # bytes collected from a stream before they go to the spool


async def spool_and_put(store: BlobStore, chunks: AsyncIterable[bytes]) -> BlobStat:
    """`put_stream` for any store: spool the chunks (hashing them), then put the spool."""
    spool = await store.open_spool()
    try:
        batch: list[bytes] = []
        pending = 0
        async for chunk in chunks:
            batch.append(chunk)
            pending += len(chunk)
            if pending >= STREAM_BATCH:
                await spool.write(batch)
                batch, pending = [], 0
        await spool.write(batch)
        await spool.finish()
        await store.put_spool(spool)
        return BlobStat(spool.sha256, spool.size)
    finally:
        await spool.discard()
