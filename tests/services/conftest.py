"""Fixtures of the job queue's tests: a fresh, empty database of each engine."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tasklette.settings import Settings, load_settings
from tasklette.storage.database import Database
from tasklette.storage.open import connect
from tests.conftest import BACKENDS, POSTGRES_URL, _admin, run_sync

T = TypeVar("T")


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a fresh, empty database of each engine."""
    if request.param == "sqlite":
        yield load_settings(environ={}, data_dir=tmp_path / "data")
        return
    name = f"tasklette_jobs_{os.getpid()}"
    run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield load_settings(environ={}, data_dir=tmp_path / "data",
                            database_url=POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = await connect(settings)
        try:
            return await work(db)
        finally:
            await db.close()

    return run_sync(main())


