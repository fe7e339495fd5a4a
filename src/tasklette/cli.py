"""The `tasklette` command: serve the app, and administer users, tokens and data."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn

from tasklette import http_protocol
from tasklette.blobs.open import open_store as open_blob_store
from tasklette.blobs.store import BlobStore, BlobStoreUnavailable
from tasklette.cli_common import WHOLE_NUMBER, data_dir_option, database_option
from tasklette.cli_common import run as _run
from tasklette.cli_common import settings as _settings
from tasklette.cli_jobs import jobs_group, worker
from tasklette.logs import log_config
from tasklette.services import attachments, sessions, tokens, users
from tasklette.services.errors import ServiceError
from tasklette.services.permissions import Actor
from tasklette.settings import SETTINGS_TABLE, Settings
from tasklette.storage import instance as storage_instance
from tasklette.storage import open as storage_open
from tasklette.storage import sqlite as storage_sqlite
from tasklette.storage.database import Database, SchemaTooNewError

T = TypeVar("T")


@click.group(invoke_without_command=True)
@click.version_option(package_name="tasklette")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Tasklette: a self-hosted, real-time, collaborative task manager.

    Run without a command to serve on http://127.0.0.1:8000.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


main.add_command(worker)
main.add_command(jobs_group)


@main.command()
@click.option("--host", default=None, help="Address to listen on [env: TASKLETTE_HOST; "
                                           "default: 127.0.0.1].")
@click.option("--port", type=WHOLE_NUMBER, default=None, help="Port [env: TASKLETTE_PORT; "
                                                     "default: 8000].")
@data_dir_option
@click.option("--database", "database_url", default=None,
              help="PostgreSQL URL to use instead of SQLite [env: TASKLETTE_DATABASE_URL].")
@click.option("--workers", type=WHOLE_NUMBER, default=None,
              help="Server processes [env: TASKLETTE_WORKERS; default: 1].")
@click.option("--log-level", default=None, help="debug, info, warning or error "
                                                "[env: TASKLETTE_LOG_LEVEL].")
def serve(host: str | None = None, port: int | None = None, data_dir: Path | None = None,
          database_url: str | None = None, workers: int | None = None,
          log_level: str | None = None) -> None:
    """Serve Tasklette over HTTP (the database is created and migrated first)."""
    settings = _settings(host=host, port=port, data_dir=data_dir, database_url=database_url,
                         workers=workers, log_level=log_level)
    if settings.workers > 1 and not storage_open.uses_postgres(settings):
        raise click.ClickException(
            "several server processes need PostgreSQL (TASKLETTE_DATABASE_URL): on SQLite, "
            "Tasklette runs as one process (see docs/deployment.md)")
    try:
        release = storage_open.claim_server(settings)  # held while this process serves
    except storage_sqlite.ServerAlreadyRunning as exc:
        raise click.ClickException(str(exc)) from None
    try:
        _serve(settings)
    finally:
        release()


def _serve(settings: Settings) -> None:
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
        # Access lines come from tasklette.logs.RequestLog, with the request id.
        "access_log": False, "log_config": log_config(settings.log_level, settings.log_format),
        "proxy_headers": True, "server_header": False,
        "timeout_graceful_shutdown": 10,
        # TCP_NODELAY on every connection, which uvicorn's --workers N leaves off.
        "http": http_protocol.IMPORT_STRING,
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
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace DESTINATION if it exists.")
@data_dir_option
def backup(destination: Path, force: bool, data_dir: Path | None) -> None:
    """Copy the SQLite database to DESTINATION while Tasklette keeps running.

    The copy is consistent and checked. Files of attachments live in the data
    directory's blobs/ (content-addressed, never changed in place): copy that
    directory as it is, e.g. with rsync. On PostgreSQL, use pg_dump.
    """
    settings = _settings(data_dir=data_dir)
    if storage_open.uses_postgres(settings):
        raise click.ClickException("the database is PostgreSQL: back it up with pg_dump "
                                   "(see docs/deployment.md)")
    if not settings.database_path.is_file():
        raise click.ClickException(f"there is no database at {settings.database_path}")
    if destination.exists() and not force:
        raise click.ClickException(f"{destination} exists; pass --force to replace it")
    with click.progressbar(length=1, label="Copying", show_percent=True) as bar:
        def step(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        storage_sqlite.backup(settings.database_path, destination, progress=step)
    click.echo(f"Backed up {settings.database_path} to {destination} "
               f"({destination.stat().st_size:,} bytes).")


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
    """Set a user's password; every browser signed in as them is signed out."""
    ended = _run(_settings(data_dir=data_dir),
                 lambda db: users.set_password(db, username, password))
    click.echo(f"Password of {username} changed; {ended} session{'s' if ended != 1 else ''} "
               "signed out.")


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
@click.argument("token_id", type=WHOLE_NUMBER, required=False)
@click.option("--all", "all_tokens", is_flag=True, help="Revoke every token of USERNAME.")
@data_dir_option
def token_revoke(username: str, token_id: int | None, all_tokens: bool,
                 data_dir: Path | None) -> None:
    """Revoke USERNAME's token TOKEN_ID (see `tasklette token list`), or --all of them."""
    if (token_id is None) == (not all_tokens):
        raise click.UsageError("name one TOKEN_ID, or pass --all (not both)")

    async def work(db: Database) -> Any:
        actor = await _actor(db, username)
        if all_tokens:
            return await tokens.revoke_all(db, actor.id)
        assert token_id is not None
        return await tokens.revoke(db, actor, token_id)

    result = _run(_settings(data_dir=data_dir), work)
    if all_tokens:
        click.echo(f"Revoked {result} token{'s' if result != 1 else ''} of {username}.")
    else:
        click.echo(f"Token {token_id} revoked.")


@main.group("sessions")
def sessions_group() -> None:
    """Manage browser sessions."""


@sessions_group.command("purge")
@data_dir_option
def sessions_purge(data_dir: Path | None) -> None:
    """Delete ended sessions and old sign-in failure counts (a server does it hourly)."""
    settings = _settings(data_dir=data_dir)
    idle = timedelta(minutes=settings.session_idle_minutes)
    ended, counts = _run(settings, lambda db: sessions.purge(db, idle))
    click.echo(f"Removed {ended} ended session{'s' if ended != 1 else ''} and {counts} "
               f"old sign-in failure count{'s' if counts != 1 else ''}.")


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


# --- import and export -------------------------------------------------------------------
# `tasklette import SOURCE FILE` and `tasklette export project ID`: the groups leave room
# for whole-instance commands (`import instance`, `export instance`) beside these.


async def _owner(db: Database, username: str | None) -> Actor:
    """The user named by --owner; without it, the only user or the only administrator."""
    if username is not None:
        return await _actor(db, username)
    rows = await users.list_all(db)
    admins = [row for row in rows if row["is_admin"]]
    for candidates in (rows, admins):
        if len(candidates) == 1:
            row = candidates[0]
            return Actor(row["id"], row["username"], row["display_name"], bool(row["is_admin"]))
    if not rows:
        raise click.ClickException("there are no users yet: create one with "
                                   "`tasklette user create USERNAME`")
    raise click.ClickException("name the new project's owner with --owner USERNAME")


def _import(source: str, file: Path, project: str | None, owner: str | None,
            data_dir: Path | None) -> None:
    from tasklette.services import importing
    from tasklette.services.importing import writer

    settings = _settings(data_dir=data_dir)
    try:
        plan = importing.read(source, file.read_bytes(), project)
    except ServiceError as exc:
        raise click.ClickException(f"{file}: {exc.detail}") from None
    with click.progressbar(length=importing.size(plan), label=f"Importing {file.name}",
                           file=sys.stderr) as bar:
        async def work(db: Database) -> importing.ImportResult:
            return await writer.write(db, await _owner(db, owner), plan, bar.update)

        result = _run(settings, work)
    for line in result.lines():
        click.echo(line)


@main.group("import")
def import_group() -> None:
    """Import a project from a file; every import makes a new project."""


def _import_command(source: str, what: str) -> click.Command:
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--project", default=None, help="Name of the new project (default: the "
                                                  "file's; a taken name gets (2), (3)…).")
    @click.option("--owner", default=None, help="Username of the new project's owner "
                                                "(default: the only user or administrator).")
    @data_dir_option
    def command(file: Path, project: str | None, owner: str | None,
                data_dir: Path | None) -> None:
        _import(source, file, project, owner, data_dir)

    command.__doc__ = f"Import {what} as a new project."
    return import_group.command(source)(command)


_import_command("trello", "a Trello board export (JSON)")
_import_command("todoist", "a Todoist project exported as CSV")
_import_command("tasklette", "a Tasklette project export (JSON)")


@main.group("export")
def export_group() -> None:
    """Export data to files."""


@export_group.command("project")
@click.argument("project_id", type=WHOLE_NUMBER)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write ('-': standard output; default: the project's name and "
                   "the day, in the current directory).")
@click.option("--format", "file_format", type=click.Choice(["json", "csv"]), default="json",
              show_default=True, help="json: everything, importable with `tasklette import "
                                      "tasklette`; csv: one row per task.")
@click.option("--as", "username", default=None,
              help="Export as this member (default: the project's first owner).")
@data_dir_option
def export_project(project_id: int, output: Path | None, file_format: str,
                   username: str | None, data_dir: Path | None) -> None:
    """Export project PROJECT_ID (see its address: /projects/PROJECT_ID)."""
    from tasklette.services import exporting

    async def actor_and_count(db: Database) -> tuple[Actor, int]:
        actor = await _actor(db, username) if username else \
            await exporting.owner_actor(db, project_id)
        if actor is None:
            raise click.ClickException(f"there is no project {project_id}")
        return actor, await exporting.task_count(db, actor, project_id)

    settings = _settings(data_dir=data_dir)
    actor, count = _run(settings, actor_and_count)
    steps = count * (2 if file_format == "csv" else 1)
    with click.progressbar(length=steps, label=f"Exporting project {project_id}",
                           file=sys.stderr) as bar:
        data = _run(settings, lambda db: exporting.project_data(db, actor, project_id,
                                                                bar.update))
        content = exporting.to_csv(data, bar.update) if file_format == "csv" \
            else exporting.to_json(data)
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(content)
        return
    target = output or Path(exporting.file_name(data, file_format))
    target.write_bytes(content)
    click.echo(f"Wrote {len(data['tasks'])} tasks of “{data['project']['name']}” to {target}.",
               err=True)


# --- blobs: the stored files of attachments ----------------------------------------------


@main.group()
def blobs() -> None:
    """Check and tidy the stored files of attachments."""


def _run_with_blobs(settings: Settings,
                    work: Callable[[Database, BlobStore], Awaitable[T]]) -> T:
    """Like `_run`, with the blob store open too."""

    async def with_store(db: Database) -> T:
        try:
            store = await open_blob_store(settings)
        except BlobStoreUnavailable as exc:
            raise click.ClickException(f"the file store cannot be used: {exc}") from None
        try:
            return await work(db, store)
        finally:
            await store.close()

    return _run(settings, with_store)


@blobs.command("check")
@data_dir_option
def blobs_check(data_dir: Path | None) -> None:
    """Verify every stored file against its SHA-256; exit 1 if any is missing or corrupt."""
    settings = _settings(data_dir=data_dir)
    count, size = _run_with_blobs(settings, lambda db, store: attachments.blob_totals(store))
    with click.progressbar(length=max(size, 1), label=f"Checking {count} files",
                           file=sys.stderr) as bar:
        report = _run_with_blobs(
            settings, lambda db, store: attachments.check_blobs(db, store, bar.update))
    for sha256 in report.missing:
        click.echo(f"missing: {sha256} (attachments name it; the store does not have it)")
    for sha256 in report.corrupt:
        click.echo(f"corrupt: {sha256} (its bytes no longer match their SHA-256 or size)")
    click.echo(f"Checked {report.checked} files: {len(report.missing)} missing, "
               f"{len(report.corrupt)} corrupt, {report.unreferenced} unreferenced"
               + (" (`tasklette blobs gc` removes those)." if report.unreferenced else "."))
    if not report.ok:
        raise SystemExit(1)


@blobs.command("gc")
@data_dir_option
def blobs_gc(data_dir: Path | None) -> None:
    """Remove stored files that no attachment names (e.g. after a task was deleted)."""
    settings = _settings(data_dir=data_dir)
    count, _ = _run_with_blobs(settings, lambda db, store: attachments.blob_totals(store))
    with click.progressbar(length=max(count, 1), label=f"Looking at {count} files",
                           file=sys.stderr) as bar:
        report = _run_with_blobs(
            settings, lambda db, store: attachments.collect_garbage(db, store, bar.update))
    click.echo(f"Removed {report.removed} unreferenced files ({report.freed_bytes} bytes); "
               f"kept {report.kept}.")


# --- a whole instance, e.g. from SQLite to PostgreSQL ----------------------------------

def _progress(label: str, total: int) -> Any:
    return click.progressbar(length=max(total, 1), label=label, file=sys.stderr)


@export_group.command("instance")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
@database_option
def export_instance(file: Path, data_dir: Path | None, database_url: str | None) -> None:
    """Export every row and file of this instance to FILE (a zip), to move it elsewhere."""
    from tasklette.services import instance

    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def work(db: Database, store: BlobStore) -> dict[str, Any]:
        total, _ = await attachments.blob_totals(store)
        async with db.reading() as conn:
            total += sum([await storage_instance.count(conn, table)
                          for table, _ in storage_instance.TABLES])
        with _progress("Exporting", total) as bar:
            return await instance.export(db, store, file, lambda what, n: bar.update(n))

    manifest = _run_with_blobs(settings, work)
    click.echo(f"Exported {sum(manifest['tables'].values()):,} rows and "
               f"{manifest['blobs']:,} files to {file}.")


@import_group.command("instance")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_dir_option
@database_option
def import_instance(file: Path, data_dir: Path | None, database_url: str | None) -> None:
    """Fill this new, empty instance from FILE (made by `tasklette export instance`)."""
    from tasklette.services import instance

    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def work(db: Database, store: BlobStore) -> dict[str, Any]:
        total = instance.size_of(file)
        with _progress("Importing", total) as bar:
            return await instance.import_(db, store, file, lambda what, n: bar.update(n))

    manifest = _run_with_blobs(settings, work)
    click.echo(f"Imported {sum(manifest['tables'].values()):,} rows and "
               f"{manifest['blobs']:,} files from {file}.")
