"""Mentions: `@username` in a comment or a description names a member of the project."""

from __future__ import annotations

import re

from tasklette.services.errors import Invalid
from tasklette.storage import members
from tasklette.storage.database import Conn

# Not after a word character, '@' or '.': "ann@example.com" mentions nobody.
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9_.-]{0,39})")
# Code (fenced blocks and `spans`) mentions nobody: "@decorator" there is code.
CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)


def names_in(text: str | None) -> set[str]:
    """The usernames `text` mentions, in lower case (a full stop after one is punctuation)."""
    prose = CODE.sub(" ", text or "")
    return {match.group(1).rstrip(".").lower() for match in MENTION.finditer(prose)}


async def new_mentions(conn: Conn, project_id: int, before: str | None, after: str | None,
                       field: str) -> set[int]:
    """The members `after` mentions that `before` did not; Invalid when it mentions
    someone who is not a member (said alike whether such a user exists or not)."""
    names = names_in(after) - names_in(before)
    if not names:
        return set()
    found = await members.ids_by_username(conn, project_id, names)
    missing = sorted(names - set(found))
    if missing:
        raise Invalid(f"@{missing[0]} is not a member of this project: you can mention "
                      "only members", field=field)
    return set(found.values())
