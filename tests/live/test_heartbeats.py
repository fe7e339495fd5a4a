"""Idle streams: heartbeats touch the socket only, never the database, however many streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

from tasklette.live.broker import Broker
from tasklette.live.streams import project_stream
from tasklette.settings import load_settings
from tasklette.storage.open import open_database

HEARTBEAT = b": heartbeat\n\n"


def test_heartbeats_of_many_idle_streams_do_not_query_the_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> list[str]:
        db = open_database(load_settings(environ={}, data_dir=tmp_path))
        used: list[str] = []
        for name in ("reading", "transaction"):  # the real ones, noted when used
            real = getattr(db, name)

            def noted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                used.append(_name)
                return _real(*args, **kwargs)

            monkeypatch.setattr(db, name, noted)
        broker = Broker()

        async def follow(user_id: int, beats: int) -> None:
            stream: AsyncGenerator[bytes, None] = project_stream(
                db, broker, broker.subscribe_project(1, user_id), 1, None, heartbeat=0.01)
            seen = 0
            async for frame in stream:
                seen += frame == HEARTBEAT
                if seen == beats:
                    break
            await stream.aclose()

        try:
            await asyncio.gather(*(follow(user_id, 5) for user_id in range(1, 51)))
        finally:
            await db.close()
        return used

    assert asyncio.run(scenario()) == []  # 50 streams x 5 heartbeats, no query
