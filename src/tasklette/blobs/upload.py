"""Reading a multipart/form-data body as it arrives, each file part into a spool.

The body is fed chunk by chunk to streaming-form-data's parser (C, on the event
loop: microseconds per chunk). Its callbacks only collect each part's bytes; after
each chunk they are queued to the part's spool, which hashes and writes them in a
thread of its own while the next chunks are read. The memory an upload holds is
what its spools may queue (`spool.QUEUE_BYTES`) and one chunk, whatever the size of
its files. Limits are enforced while reading: the first byte over a limit ends the
upload.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# streaming-form-data ships no type information.
from streaming_form_data import StreamingFormDataParser  # type: ignore[import-untyped]
from streaming_form_data.parser import (  # type: ignore[import-untyped]
    ParseFailedException,
    parse_content_boundary,
)
from streaming_form_data.targets import BaseTarget  # type: ignore[import-untyped]

from tasklette.blobs.limits import UploadLimits, UploadRefused, malformed, too_large
from tasklette.blobs.spool import Spool
from tasklette.blobs.store import BlobStore

MAX_PART_HEADER_BYTES = 16 * 1024  # a part's headers; real ones take a few hundred
FEED_SLICE = 8 * 1024
MAX_FIELD_BYTES = 4096  # a text field (the CSRF token of the form without scripts)


@dataclass
class Part:
    """One part of the body: a file (with a spool) or a small text field."""

    name: str
    filename: str | None
    spool: Spool | None = None
    size: int = 0
    pending: list[bytes] = field(default_factory=list)  # not yet queued to the spool
    finished: bool = False  # the parser saw its end
    value: bytearray = field(default_factory=bytearray)

    @property
    def is_file(self) -> bool:
        return self.filename is not None


@dataclass
class Form:
    """What a finished upload holds: its file parts (spooled, hashed) and text fields."""

    files: list[Part]
    fields: dict[str, str]


class _Collector(BaseTarget):  # type: ignore[misc]
    """The parser's one target, for every part: starts parts and collects their bytes."""

    def __init__(self, upload: MultipartUpload) -> None:
        super().__init__()
        self.upload = upload

    def set_multipart_filename(self, filename: str | None) -> None:
        self.upload.next_filename = filename

    def on_start(self) -> None:
        self.upload.start_part()

    def on_data_received(self, chunk: bytes) -> None:
        self.upload.part_data(chunk)

    def on_finish(self) -> None:
        self.upload.progress = 0
        self.upload.in_body = False
        if self.upload.parts:
            self.upload.parts[-1].finished = True


class MultipartUpload:
    """One request's multipart body, read into spools of `store` within `limits`.

    Use it as an async context manager: on leaving, every spool not moved into the
    store is removed, whether the upload succeeded, was refused or was cut off.
    """

    def __init__(self, store: BlobStore, headers: Mapping[str, str],
                 limits: UploadLimits) -> None:
        self.store = store
        self.limits = limits
        self.parts: list[Part] = []
        self.next_name = ""
        self.next_filename: str | None = None
        self.progress = 0  # bytes fed since the parser last reported a part's progress
        self.in_body = False  # the parser is inside a part's body (it gave some of it)
        header = {"content-type": headers.get("content-type", "")}
        try:
            boundary = parse_content_boundary(header)
            self._parser = StreamingFormDataParser(headers=header)
        except ParseFailedException:
            raise malformed("the multipart/form-data Content-Type has no boundary") from None
        self._parser.register("", _Collector(self), matches=self._match)
        self._boundary_end = b"--" + boundary + b"--"
        self._delimiter = b"\r\n--" + boundary  # what ends a part's body
        self._tail = b""

    async def __aenter__(self) -> MultipartUpload:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        for part in self.parts:
            if part.spool is not None:
                # A write under way in the spool's thread ends first; the rest is dropped.
                with contextlib.suppress(Exception):
                    await part.spool.discard()

    def _match(self, _registered: str, name: str) -> bool:
        self.next_name = name  # the parser tells targets the filename, not the field name
        return True

    # --- the parser's callbacks (on the event loop: bookkeeping only) --------------

    def start_part(self) -> None:
        self.progress = 0
        self.in_body = False  # its other headers may follow
        if len(self.parts) >= self.limits.max_parts:
            raise malformed(f"the request has more than {self.limits.max_parts} parts")
        self.parts.append(Part(self.next_name, self.next_filename))
        self.next_filename = None

    def part_data(self, chunk: bytes) -> None:
        self.progress = 0
        self.in_body = True
        part = self.parts[-1]
        part.size += len(chunk)
        if not part.is_file:
            part.value += chunk
            if len(part.value) > MAX_FIELD_BYTES:
                raise malformed(f"the form field {part.name!r} is over {MAX_FIELD_BYTES} bytes")
            return
        if part.size > self.limits.max_file_bytes:
            shown = part.filename if len(part.filename or "") <= 80 \
                else (part.filename or "")[:79] + "…"
            raise too_large(f"the file {shown!r} is over the limit of "
                            f"{self.limits.max_file_bytes} bytes per file")
        part.pending.append(chunk)

    # --- reading ---------------------------------------------------------------------

    async def read(self, chunks: AsyncIterable[bytes]) -> Form:
        """Read the whole body; UploadRefused when it breaks a rule or is malformed."""
        received = 0
        async for chunk in chunks:
            if not chunk:
                continue
            received += len(chunk)
            if received > self.limits.max_request_bytes:
                raise too_large(f"the request body is over the limit of "
                                f"{self.limits.max_request_bytes} bytes")
            seam = self._tail[-len(self._delimiter) + 1:] + chunk[:len(self._delimiter) - 1]
            self._tail = (self._tail + chunk[-256:])[-256:]
            if self.in_body and self._delimiter not in chunk and self._delimiter not in seam:
                # Nothing but body bytes: the parser takes the chunk whole and hands it
                # on whole (no copies of small slices, one write of it).
                self._feed(chunk)
            else:
                self._feed_slices(chunk)
            await self._write()
        if not self._tail.rstrip().endswith(self._boundary_end) or (
                self.parts and not self.parts[-1].finished):
            raise malformed("the multipart body ended before its closing boundary")
        for part in self.parts:
            if part.is_file:
                if part.spool is None:  # an empty file
                    part.spool = await self.store.open_spool()
                await part.spool.finish()
        files = [part for part in self.parts if part.is_file]
        fields = {part.name: part.value.decode("utf-8", "replace")
                  for part in self.parts if not part.is_file}
        return Form(files, fields)

    def _feed_slices(self, chunk: bytes) -> None:
        """Feed a chunk that holds part headers a slice at a time, so that headers that
        never end are caught early: within a part's body, the parser reports progress
        every kilobyte or so."""
        for start in range(0, len(chunk), FEED_SLICE):
            piece = chunk[start:start + FEED_SLICE]
            self.progress += len(piece)
            self._feed(piece)
            if self.progress > MAX_PART_HEADER_BYTES:
                raise malformed(f"a part's headers are over {MAX_PART_HEADER_BYTES} "
                                "bytes, or a part has no Content-Disposition")

    def _feed(self, chunk: bytes) -> None:
        try:
            self._parser.data_received(chunk)
        except UploadRefused:
            raise
        except (ParseFailedException, UnicodeDecodeError, ValueError, TypeError) as exc:
            # UnicodeDecodeError: part headers that are not UTF-8.
            raise malformed(f"the multipart/form-data body is malformed ({exc})") from None

    async def _write(self) -> None:
        """Queue each file part's collected bytes to its spool (opened on the first)."""
        for part in self.parts:
            if part.pending:
                if part.spool is None:
                    part.spool = await self.store.open_spool()
                batch, part.pending = part.pending, []
                await part.spool.write(batch)
