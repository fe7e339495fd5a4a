"""The few places where SQLite and PostgreSQL need different SQL."""

from __future__ import annotations


def contains_ci(dialect: str, expr: str) -> str:
    """SQL testing, case-insensitively, that `expr` contains the bound pattern."""
    if dialect == "postgresql":
        return f"{expr} ILIKE ? ESCAPE '\\'"
    return f"{expr} LIKE ? ESCAPE '\\'"


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with wildcards in it taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def placeholders(count: int) -> str:
    """`?, ?, ?` for an IN list of `count` values (count >= 1)."""
    return ", ".join("?" * count)
