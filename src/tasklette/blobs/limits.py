"""An upload's limits, and its refusals: what the views need before a byte is parsed.

Apart from `blobs.upload` because the parser (streaming-form-data) imports smart_open
and boto3, about 37 MiB: a server that is sent no file never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass


class UploadRefused(Exception):
    """The upload breaks a rule; `status` is the HTTP status that says which."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def too_large(detail: str) -> UploadRefused:
    return UploadRefused(413, "Content too large", detail)


def malformed(detail: str) -> UploadRefused:
    return UploadRefused(400, "Bad request", detail)


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_request_bytes: int
    max_parts: int
