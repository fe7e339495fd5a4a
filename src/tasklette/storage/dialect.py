"""The few places where SQLite and PostgreSQL need different SQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import orjson

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


def in_ids(dialect: str, expr: str) -> str:
    """SQL testing that `expr` is one of the ids bound as one parameter (`ids_param`).

    One statement text for any number of ids: SQLite's statement cache keeps it, and
    asyncpg prepares it once, where an IN list of `?`s is a new statement per length.
    """
    if dialect == "postgresql":
        return f"{expr} = ANY(?::bigint[])"
    return f"{expr} IN (SELECT value FROM json_each(?))"


def ids_param(dialect: str, ids: Iterable[int]) -> Any:
    """The one parameter `in_ids` binds: an array on PostgreSQL, a JSON array on SQLite."""
    if dialect == "postgresql":
        return list(ids)
    return orjson.dumps(list(ids)).decode()


def json_rows(dialect: str, *exprs: str) -> str:
    """An aggregate: a JSON array holding, per row, the array of `exprs` (text; NULL or
    "[]" over no rows). The database builds it, in one value per group."""
    if dialect == "postgresql":
        return f"json_agg(json_build_array({', '.join(exprs)}))"
    return f"json_group_array(json_array({', '.join(exprs)}))"
