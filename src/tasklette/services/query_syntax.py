"""The search query syntax, shared by the search box and the API.

    deploy "release notes" label:bug assignee:me priority:high,urgent
    due:<2026-12-01 due:overdue is:open column:"In progress" migrat*

Free words must all match (stemmed: "running" finds "run"); a trailing `*` matches
any word starting so; `"…"` is an exact phrase. `name:value` narrows the results;
a value with spaces is quoted. Anything else is refused with a message that says
what to write instead. Words too common to mean anything ("the", "with": the list
PostgreSQL's english configuration ignores) are left out on both engines, so that
both find the same tasks and neither ranks every task for them.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Literal

from tasklette.services.errors import Invalid
from tasklette.storage.tasks import PRIORITIES

MAX_LENGTH = 500
MAX_PARTS = 24
MIN_PREFIX = 2  # a one-letter prefix matches most of the index
OPERATORS = ("label", "assignee", "priority", "due", "is", "column")
DUE_WORDS = ("overdue", "today", "none")
STATUS = {"open": False, "done": True}

# PostgreSQL's english.stop (Snowball's list).
STOP_WORDS = frozenset((
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours",
    "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself",
    "it", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which",
    "who", "whom", "this", "that", "these", "those", "am", "is", "are", "was", "were", "be",
    "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an",
    "the", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by", "for",
    "with", "about", "against", "between", "into", "through", "during", "before", "after",
    "above", "below", "to", "from", "up", "down", "in", "out", "on", "off", "over", "under",
    "again", "further", "then", "once", "here", "there", "when", "where", "why", "how", "all",
    "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
    "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don",
    "should", "now",
))

_NAME_COLON = re.compile(r"([A-Za-z]+):")
_DUE = re.compile(r"(<=|>=|<|>|=)?([0-9]{4}-[0-9]{2}-[0-9]{2})")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_HAS_WORD = re.compile(r"\w")


class QuerySyntaxError(Invalid):
    """A search query that cannot be understood; `detail` says how to write it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="q")


@dataclass(frozen=True)
class Term:
    """Text to find: a word, an exact phrase, or the start of a word."""

    text: str
    kind: Literal["word", "phrase", "prefix"] = "word"


@dataclass
class ParsedQuery:
    """A query taken apart: what to find and how to narrow it."""

    terms: list[Term] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # words too common to search for
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    due: list[tuple[str, str]] = field(default_factory=list)  # (op, day); op may be a word
    completed: bool | None = None
    columns: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.terms or self.labels or self.assignees or self.priorities
                    or self.due or self.completed is not None or self.columns)


def parse(text: str) -> ParsedQuery:
    """Take a query apart; QuerySyntaxError says what is wrong and how to write it."""
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(f"a search can be at most {MAX_LENGTH} characters long")
    query = ParsedQuery()
    # NUL is no text: FTS5 takes it for the end of a string, PostgreSQL refuses it.
    tokens = _tokens(text.replace("\x00", " "))
    if len(tokens) > MAX_PARTS:
        raise QuerySyntaxError(f"a search can have at most {MAX_PARTS} words and filters")
    for kind, name, value in tokens:
        if kind == "phrase":
            if _HAS_WORD.search(value):
                query.terms.append(Term(value, "phrase"))
        elif kind == "word":
            _word(query, value)
        else:
            _operator(query, name, value)
    return query


def _tokens(text: str) -> list[tuple[str, str, str]]:
    """(kind, operator name, value) for each part: kind is word, phrase or operator."""
    tokens: list[tuple[str, str, str]] = []
    i, end = 0, len(text)
    while i < end:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == '"':
            value, i = _quoted(text, i)
            tokens.append(("phrase", "", value))
            continue
        named = _NAME_COLON.match(text, i)
        if named:
            name = named.group(1).lower()
            i = named.end()
            if i < end and text[i] == '"':
                value, i = _quoted(text, i)
            else:
                start = i
                while i < end and not text[i].isspace():
                    i += 1
                value = text[start:i]
            tokens.append(("operator", name, value.strip()))
            continue
        start = i
        while i < end and not text[i].isspace() and text[i] != '"':
            i += 1
        tokens.append(("word", "", text[start:i]))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    close = text.find('"', start + 1)
    if close < 0:
        raise QuerySyntaxError(
            f"the quote at character {start + 1} is not closed: end the phrase with \"")
    return text[start + 1:close].strip(), close + 1


def _word(query: ParsedQuery, word: str) -> None:
    if word.endswith("*"):
        stem = word[:-1]
        if not re.fullmatch(r"\w+", stem):
            raise QuerySyntaxError(
                f"{word!r}: a * can only end a word of letters and digits, as in deploy*")
        if len(stem) < MIN_PREFIX:
            raise QuerySyntaxError(f"{word!r}: write at least {MIN_PREFIX} letters before "
                                   "the *, as in dep*")
        query.terms.append(Term(stem, "prefix"))
    elif word.lower().strip(".,;:!?'") in STOP_WORDS:
        query.ignored.append(word)
    elif _HAS_WORD.search(word):
        query.terms.append(Term(word))


def _operator(query: ParsedQuery, name: str, value: str) -> None:
    if name not in OPERATORS:
        known = ", ".join(f"{op}:" for op in OPERATORS)
        raise QuerySyntaxError(
            f"there is no filter {name}:; use {known} — or put the text in quotes, "
            f"\"{name}:{value}\", to search for it")
    if not value:
        raise QuerySyntaxError(f"{name}: needs a value, e.g. {_EXAMPLES[name]}")
    if len(value) > 100:
        raise QuerySyntaxError(f"the value of {name}: is too long (at most 100 characters)")
    if name == "label":
        query.labels.append(value.lower())
    elif name == "column":
        query.columns.append(value.lower())
    elif name == "assignee":
        user = value.lower().removeprefix("@")
        if user != "me" and not _USERNAME.fullmatch(user):
            raise QuerySyntaxError(f"assignee:{value} is not a username; write assignee:me "
                                   "or assignee:ana")
        query.assignees.append(user)
    elif name == "priority":
        for level in value.lower().split(","):
            if level not in PRIORITIES:
                raise QuerySyntaxError(f"there is no priority {level!r}; use one of "
                                       f"{', '.join(PRIORITIES)}, e.g. priority:high")
            query.priorities.append(level)
    elif name == "due":
        query.due.append(_due(value))
    else:
        state = value.lower()
        if state not in STATUS:
            raise QuerySyntaxError(f"is:{value} is not known; write is:open or is:done")
        query.completed = STATUS[state]


def _due(value: str) -> tuple[str, str]:
    word = value.lower()
    if word in DUE_WORDS:
        return word, ""
    match = _DUE.fullmatch(value)
    if match:
        try:
            day = datetime.date.fromisoformat(match.group(2))
        except ValueError:
            raise QuerySyntaxError(f"due:{value}: {match.group(2)} is not a day of the "
                                   "calendar") from None
        return match.group(1) or "=", day.isoformat()
    raise QuerySyntaxError(f"due:{value} is not understood; write a day as YYYY-MM-DD, "
                           "optionally after <, <=, > or >= (due:<2026-12-01), or "
                           "due:overdue, due:today or due:none")


_EXAMPLES = {"label": "label:bug", "assignee": "assignee:me", "priority": "priority:high",
             "due": "due:<2026-12-01", "is": "is:open", "column": 'column:"In progress"'}
