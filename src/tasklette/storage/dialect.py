"""The few places where SQLite and PostgreSQL need different SQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def contains_ci(dialect: str, expr: str) -> str:
    """SQL testing, case-insensitively, that `expr` contains the bound pattern."""
    if dialect == "postgresql":
        return f"{expr} ILIKE ? ESCAPE '\\'"
    return f"{expr} LIKE ? ESCAPE '\\'"


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with wildcards in it taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


IN_LIST_LIMIT = 500  # values per IN list, well below either engine's parameter limit


def chunks(values: Iterable[T]) -> Iterator[list[T]]:
    """`values` in lists of at most IN_LIST_LIMIT, for IN lists of any length."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == IN_LIST_LIMIT:
            yield batch
            batch = []
    if batch:
        yield batch


def placeholders(count: int) -> str:
    """`?, ?, ?` for an IN list of `count` values (count >= 1)."""
    return ", ".join("?" * count)
