"""`tasklette worker`: a process that runs jobs and serves nothing.

Beside `tasklette serve` (whose processes run jobs too) it adds capacity, or runs jobs
on hosts that take no requests. On PostgreSQL any number share the queue; on SQLite
it may run beside the one server process, as the rest of the CLI does.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import signal
from typing import Any

import click

from tasklette.logs import log_config
from tasklette.services.job_runner import HandlerTable, JobRunner, built_in_handlers
from tasklette.settings import Settings
from tasklette.storage import open as storage_open


def run(settings: Settings, job_handlers: HandlerTable = built_in_handlers,
        **runner_options: Any) -> None:
    """Run jobs until SIGTERM or SIGINT, then let running ones finish (or give them back)."""
    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    asyncio.run(_work(settings, job_handlers, runner_options))


async def _work(settings: Settings, job_handlers: HandlerTable,
                runner_options: dict[str, Any]) -> None:
    db = await storage_open.connect(settings)
    try:
        options = {"concurrency": settings.job_concurrency,
                   "lease_seconds": settings.job_lease_seconds, **runner_options}
        runner = JobRunner(db, job_handlers(db, settings), **options)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        runner.start()
        click.echo(f"Tasklette worker {runner.name} runs up to {runner.concurrency} jobs at "
                   "once; stop it with Ctrl-C or SIGTERM.")
        try:
            await stopping.wait()
        finally:
            await runner.stop()
    finally:
        await db.close()
