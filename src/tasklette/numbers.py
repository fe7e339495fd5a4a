"""Whole numbers from untrusted text: ASCII digits only, of bounded length.

`str.isdigit()` is true for `²`, `①` or `٣`, and `int()` accepts `٣`, `+3`, ` 3 `
and `1_000`; neither is what a header, a form field or an imported file means by
a number. Every number read from outside goes through `parse_int` (or
`parse_hex`), so they are all refused the same way.
"""

from __future__ import annotations

_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
MAX_DIGITS = 18  # every value of 18 digits fits a signed 64-bit column


class NotANumber(ValueError):
    """The text is not a whole number written in ASCII digits (or is too long)."""


def parse_int(text: str, *, max_digits: int = MAX_DIGITS, signed: bool = False) -> int:
    """The number `text` spells in ASCII digits; a leading `-` only when `signed`.

    No `+`, no spaces, no `_`, at most `max_digits` digits; NotANumber otherwise.
    """
    digits = text[1:] if signed and text.startswith("-") else text
    if not digits or len(digits) > max_digits or not _DIGITS.issuperset(digits):
        raise NotANumber(f"{text[:40]!r} is not a whole number of at most {max_digits} "
                         "digits (0-9)")
    return int(text)


def int_or_none(text: str | None, *, max_digits: int = MAX_DIGITS,
                signed: bool = False) -> int | None:
    """`parse_int(text)`, or None when `text` is None or not such a number."""
    if text is None:
        return None
    try:
        return parse_int(text, max_digits=max_digits, signed=signed)
    except NotANumber:
        return None


def parse_hex(text: str, *, max_digits: int = 16) -> int:
    """The number `text` spells in ASCII hexadecimal digits, without `0x`; NotANumber else."""
    if not text or len(text) > max_digits or not _HEX.issuperset(text):
        raise NotANumber(f"{text[:40]!r} is not a hexadecimal number of at most "
                         f"{max_digits} digits")
    return int(text, 16)
