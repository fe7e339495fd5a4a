"""What the `tasklette` commands share: option types, common options, settings, and
running a piece of work against the database with clean error messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tasklette.numbers import NotANumber, parse_int
from tasklette.services.errors import ServiceError
from tasklette.settings import Settings, SettingsError, load_settings
from tasklette.storage import open as storage_open
from tasklette.storage.database import Database, SchemaTooNewError

T = TypeVar("T")


class _WholeNumber(click.ParamType[int]):
    """A whole number in ASCII digits (click's int would take `٣` or `1_0`)."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_int(str(value).strip())
        except NotANumber as exc:
            self.fail(str(exc), param, ctx)


WHOLE_NUMBER = _WholeNumber()

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Directory of the database and files [env: TASKLETTE_DATA_DIR; default: "
         "./tasklette-data].")

database_option = click.option(
    "--database", "database_url", default=None,
    help="PostgreSQL URL to use instead of SQLite [env: TASKLETTE_DATABASE_URL].")


def settings(**overrides: Any) -> Settings:
    """The effective settings; a bad value is a usage error, not a traceback."""
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database, run `work` with it, close it; errors become clean messages."""

    async def main() -> T:
        db = await storage_open.connect(settings)
        try:
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        raise click.ClickException(exc.detail) from None
    except SchemaTooNewError as exc:
        raise click.ClickException(str(exc)) from None
