"""`tasklette worker` and `tasklette jobs list|retry|purge`: running and tending the
job queue."""

from __future__ import annotations

from pathlib import Path

import click

from tasklette.cli_common import WHOLE_NUMBER, data_dir_option, database_option, run, settings
from tasklette.services import jobs
from tasklette.storage.database import Row


@click.command()
@data_dir_option
@database_option
def worker(data_dir: Path | None, database_url: str | None) -> None:
    """Run queued jobs (notifications, e-mail, webhooks) until stopped.

    `tasklette serve` runs jobs too; workers add capacity, and on PostgreSQL any
    number of them share the queue. Stopping (Ctrl-C, SIGTERM) lets running jobs
    finish for a few seconds, then gives them back to the queue.
    """
    from tasklette import worker as job_worker

    job_worker.run(settings(data_dir=data_dir, database_url=database_url))


@click.group("jobs")
def jobs_group() -> None:
    """Look at the job queue; retry failed jobs; purge old ones."""


def _line(row: Row) -> str:
    when = (f"finished {row['finished_at']}" if row["finished_at"]
            else f"runs after {row['run_after']}")
    key = f"  key {row['key']}" if row["key"] is not None else ""
    return (f"{row['id']:>8}  {row['state']:<7}  {row['kind']:<24}  "
            f"attempt {row['attempts']}/{row['max_attempts']}  {when}{key}")


@jobs_group.command("list")
@click.option("--state", default=None,
              help="Only jobs in this state: queued, running, done or failed.")
@click.option("--limit", type=WHOLE_NUMBER, default=jobs.PAGE_SIZE, show_default=True,
              help="How many jobs to show.")
@click.option("--before", type=WHOLE_NUMBER, default=None,
              help="Only jobs older than job BEFORE (the next page).")
@data_dir_option
@database_option
def jobs_list(state: str | None, limit: int, before: int | None, data_dir: Path | None,
              database_url: str | None) -> None:
    """List jobs, newest first, with their last error."""
    if limit < 1:
        raise click.UsageError("--limit is at least 1")
    page = run(settings(data_dir=data_dir, database_url=database_url),
               lambda db: jobs.list_jobs(db, state, before, limit))
    click.echo("  ".join(f"{count} {name}" for name, count in page.counts.items()))
    if not page.jobs:
        click.echo("No jobs" + (f" {state}." if state else "."))
    for row in page.jobs:
        click.echo(_line(row))
        if row["last_error"]:
            click.echo(f"{'':>10}last error: {row['last_error']}")
    if page.next_before is not None:
        click.echo(f"More: --before {page.next_before}")


@jobs_group.command("retry")
@click.argument("job_id", type=WHOLE_NUMBER)
@data_dir_option
@database_option
def jobs_retry(job_id: int, data_dir: Path | None, database_url: str | None) -> None:
    """Queue failed job JOB_ID again, to run now with all its attempts."""
    row = run(settings(data_dir=data_dir, database_url=database_url),
              lambda db: jobs.retry(db, job_id))
    click.echo(f"Job {row['id']} ({row['kind']}) is queued again.")


@jobs_group.command("purge")
@click.option("--older-than-days", type=WHOLE_NUMBER, default=30, show_default=True,
              help="Delete done and failed jobs that finished more than this many days ago.")
@data_dir_option
@database_option
def jobs_purge(older_than_days: int, data_dir: Path | None,
               database_url: str | None) -> None:
    """Delete old done and failed jobs (queued and running ones are kept)."""
    count = run(settings(data_dir=data_dir, database_url=database_url),
                lambda db: jobs.purge(db, older_than_days))
    click.echo(f"Deleted {count} job{'s' if count != 1 else ''} finished more than "
               f"{older_than_days} day{'s' if older_than_days != 1 else ''} ago.")
