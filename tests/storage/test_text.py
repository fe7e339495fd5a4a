"""Text PostgreSQL cannot hold is an engine-neutral error, answered 422, never a 500."""

from __future__ import annotations

import pytest

from tasklette.storage import projects as store
from tasklette.storage.database import UnstorableText
from tests.conftest import Server, User, on_postgresql_only


@on_postgresql_only  # SQLite stores U+0000 like any other character
def test_a_nul_reaching_postgresql_is_unstorable_text(server: Server, owner: User) -> None:
    async def write() -> None:
        async with server.db.transaction() as tx:
            await store.insert(tx, "before\x00after", "", owner.id)

    with pytest.raises(UnstorableText):
        server.call(write())
    assert server.sql("SELECT COUNT(*) FROM projects WHERE name LIKE 'before%'")[0][0] == 0
