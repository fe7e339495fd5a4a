"""The `tasklette` command: serve the app, and administer users, tokens and data."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn

from tasklette.services import tokens, users
from tasklette.services.errors import ServiceError
from tasklette.services.permissions import Actor
from tasklette.settings import SETTINGS_TABLE, Settings, SettingsError, load_settings
from tasklette.storage import open as storage_open
from tasklette.storage.database import Database, SchemaTooNewError

T = TypeVar("T")

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Directory of the database and files [env: TASKLETTE_DATA_DIR; default: "
         "./tasklette-data].")


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
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


@click.group(invoke_without_command=True)
@click.version_option(package_name="tasklette")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Tasklette: a self-hosted, real-time, collaborative task manager.

    Run without a command to serve on http://127.0.0.1:8000.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--host", default=None, help="Address to listen on [env: TASKLETTE_HOST; "
                                           "default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env: TASKLETTE_PORT; "
                                                     "default: 8000].")
@data_dir_option
@click.option("--database", "database_url", default=None,
              help="PostgreSQL URL to use instead of SQLite [env: TASKLETTE_DATABASE_URL].")
@click.option("--workers", type=int, default=None,
              help="Server processes [env: TASKLETTE_WORKERS; default: 1].")
@click.option("--log-level", default=None, help="debug, info, warning or error "
                                                "[env: TASKLETTE_LOG_LEVEL].")
def serve(host: str | None = None, port: int | None = None, data_dir: Path | None = None,
          database_url: str | None = None, workers: int | None = None,
          log_level: str | None = None) -> None:
    """Serve Tasklette over HTTP (the database is created and migrated first)."""
    settings = _settings(host=host, port=port, data_dir=data_dir, database_url=database_url,
                         workers=workers, log_level=log_level)
    try:
        applied = asyncio.run(storage_open.migrate_any(settings))
    except SchemaTooNewError as exc:
        raise click.ClickException(str(exc)) from None
    if applied:
        click.echo(f"Migrated the database to schema version {applied[-1]}.")
    where = ("PostgreSQL" if storage_open.uses_postgres(settings)
             else f"data in {settings.data_dir.resolve()}")
    click.echo(f"Tasklette on http://{settings.host}:{settings.port} ({where})")
    common: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level,
        "loop": settings.event_loop,
        "access_log": settings.access_log, "proxy_headers": True, "server_header": False,
        "timeout_graceful_shutdown": 10,
    }
    if settings.workers == 1:
        from tasklette.app import create_app

        uvicorn.run(create_app(settings), **common)
        return
    # Worker processes rebuild the settings from the environment.
    for setting in SETTINGS_TABLE:
        os.environ[setting.env_var] = str(getattr(settings, setting.name))
    uvicorn.run("tasklette.app:app_from_environment", factory=True,
                workers=settings.workers, **common)


@main.command()
@data_dir_option
@click.option("--database", "database_url", default=None,
              help="PostgreSQL URL to use instead of SQLite [env: TASKLETTE_DATABASE_URL].")
def migrate(data_dir: Path | None, database_url: str | None) -> None:
    """Create the database or bring it to the newest schema."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        applied = asyncio.run(storage_open.migrate_any(settings))
    except SchemaTooNewError as exc:
        raise click.ClickException(str(exc)) from None
    if applied:
        click.echo(f"Applied migrations {', '.join(map(str, applied))}.")
    else:
        click.echo("The database is up to date.")


@main.command()
@data_dir_option
def config(data_dir: Path | None) -> None:
    """Print the effective settings (secrets masked) and where each comes from."""
    settings = _settings(data_dir=data_dir)
    by_name = {setting.name: setting for setting in SETTINGS_TABLE}
    for name, env_var, shown in settings.describe():
        click.echo(f"{name} = {shown}")
        click.echo(f"    {by_name[name].help} [env: {env_var}]")


@main.group()
def user() -> None:
    """Manage user accounts."""


@user.command("create")
@click.argument("username")
@click.option("--display-name", default="", help="Name shown to others (default: username).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Password (asked for when not given).")
@click.option("--admin", is_flag=True, help="Make the user an instance administrator.")
@data_dir_option
def user_create(username: str, display_name: str, password: str, admin: bool,
                data_dir: Path | None) -> None:
    """Create a user account."""
    row = _run(_settings(data_dir=data_dir),
               lambda db: users.create(db, username, password, display_name, admin))
    click.echo(f"Created user {row['username']} (id {row['id']}).")


@user.command("list")
@data_dir_option
def user_list(data_dir: Path | None) -> None:
    """List user accounts."""
    rows = _run(_settings(data_dir=data_dir), users.list_all)
    if not rows:
        click.echo("No users yet: create one with `tasklette user create USERNAME`.")
    for row in rows:
        admin = "  (admin)" if row["is_admin"] else ""
        click.echo(f"{row['id']:>6}  {row['username']:<24} {row['display_name']}{admin}")


@user.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="New password (asked for when not given).")
@data_dir_option
def user_set_password(username: str, password: str, data_dir: Path | None) -> None:
    """Set a user's password."""
    _run(_settings(data_dir=data_dir), lambda db: users.set_password(db, username, password))
    click.echo(f"Password of {username} changed.")


@main.group()
def token() -> None:
    """Manage API tokens."""


async def _actor(db: Database, username: str) -> Actor:
    row = await users.by_username(db, username)
    return Actor(row["id"], row["username"], row["display_name"], bool(row["is_admin"]))


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@data_dir_option
def token_create(username: str, name: str, data_dir: Path | None) -> None:
    """Create an API token for USERNAME and print it (it is shown only once)."""

    async def work(db: Database) -> tuple[Any, str]:
        return await tokens.create(db, await _actor(db, username), name)

    row, secret = _run(_settings(data_dir=data_dir), work)
    click.echo(f"Token {row['id']} ({row['name']}) for {username}; keep it, it is not "
               "shown again:", err=True)
    click.echo(secret)


@token.command("list")
@click.argument("username")
@data_dir_option
def token_list(username: str, data_dir: Path | None) -> None:
    """List USERNAME's API tokens."""

    async def work(db: Database) -> list[Any]:
        return await tokens.list_mine(db, await _actor(db, username))

    for row in _run(_settings(data_dir=data_dir), work):
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(f"{row['id']:>6}  {row['token_prefix']}…  {row['name']:<20} "
                   f"created {row['created_at']}  {state}")


@token.command("revoke")
@click.argument("username")
@click.argument("token_id", type=int)
@data_dir_option
def token_revoke(username: str, token_id: int, data_dir: Path | None) -> None:
    """Revoke USERNAME's token TOKEN_ID (see `tasklette token list`)."""

    async def work(db: Database) -> Any:
        return await tokens.revoke(db, await _actor(db, username), token_id)

    _run(_settings(data_dir=data_dir), work)
    click.echo(f"Token {token_id} revoked.")


@main.command()
@click.option("--owner", default="demo", show_default=True,
              help="User who owns the demo project (created if missing).")
@click.option("--password", default="demo-password", show_default=True,
              help="Password of demo users created now.")
@data_dir_option
def demo(owner: str, password: str, data_dir: Path | None) -> None:
    """Create a sample project with a realistic team board."""
    from tasklette import demo as demo_data

    with click.progressbar(length=demo_data.STEPS, label="Creating the demo board") as bar:
        summary = _run(_settings(data_dir=data_dir),
                       lambda db: demo_data.create(db, owner, password, bar.update))
    click.echo(summary)
