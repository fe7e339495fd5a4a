"""The content type of a file, from its first bytes (never from what the client said).

A short table of magic numbers for the formats people attach to tasks: images,
documents, archives, audio and video. Anything that reads as UTF-8 text without
control characters is text/plain (so an HTML or SVG file is shown as its source,
never run); everything else is application/octet-stream. Only the image types a
browser decodes safely are ever shown inline (`INLINE_IMAGES`).
"""

from __future__ import annotations

import codecs

OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain; charset=utf-8"
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"})

# (offset, magic, content type), the first match wins.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"PK\x05\x06", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\x28\xb5\x2f\xfd", "application/zstd"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (257, b"ustar", "application/x-tar"),
    (0, b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"\xff\xf3", "audio/mpeg"),
    (0, b"\xff\xf2", "audio/mpeg"),
    (0, b"\x00asm", "application/wasm"),
    (0, b"\x7fELF", "application/x-executable"),
)

# RIFF containers: the form type at offset 8.
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
# ISO base media files: the major brand after "ftyp" at offset 4.
_FTYP = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic",
         b"heix": "image/heic", b"mif1": "image/heif", b"qt  ": "video/quicktime",
         b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"3gp4": "video/3gpp",
         b"3gp5": "video/3gpp"}
# Control characters that plain text does not contain (tab, newlines, form feed and
# escape are allowed).
_BINARY = frozenset(range(0x00, 0x09)) | {0x0B} | frozenset(range(0x0E, 0x1B)) \
    | frozenset(range(0x1C, 0x20)) | {0x7F}


def sniff(head: bytes) -> str:
    """The content type of a file that starts with `head` (a few KiB are plenty)."""
    for offset, magic, content_type in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return content_type
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], "video/mp4")
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, or WebM
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "text/plain; charset=utf-16"
    if _is_text(head):
        return TEXT
    return OCTET_STREAM


def _is_text(head: bytes) -> bool:
    if not head or any(byte in _BINARY for byte in head):
        return False
    try:
        # Not final: the head may end inside a character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def is_inline_image(content_type: str) -> bool:
    return content_type in INLINE_IMAGES
