"""`tasklette worker` with handlers for tests across processes (Tasklette's own table is
empty yet): run as `python -m tests.job_worker`, configured by TASKLETTE_* variables;
`python -m tests.job_worker serve` runs a server with them instead.

TASKLETTE_TEST_JOB_GRACE is how long a stop waits for running jobs (default 10 s).
Each handler appends a line `<kind> <job id> <pid> <attempt>` to the file named by
TASKLETTE_TEST_JOB_LOG (appends this short are atomic, whatever the process).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tasklette import worker
from tasklette.services.job_runner import Handler, Job
from tasklette.settings import Settings, load_settings
from tasklette.storage.database import Database


def _note(kind: str, job: Job) -> None:
    with Path(os.environ["TASKLETTE_TEST_JOB_LOG"]).open("a") as log:
        log.write(f"{kind} {job.id} {os.getpid()} {job.attempt}\n")


def handlers(db: Database, settings: Settings) -> dict[str, Handler]:
    async def record(job: Job) -> None:
        _note("record", job)
        await asyncio.sleep(0.02)

    async def slow(job: Job) -> None:
        """The first attempt never ends (its process is to be killed); later ones do."""
        _note("slow", job)
        if job.attempt == 1:
            await asyncio.sleep(3600)

    return {"test.record": record, "test.slow": slow}


def serve(settings: Settings) -> None:
    """A server, as `tasklette serve` runs one, whose runner has these handlers."""
    import uvicorn

    from tasklette.app import create_app

    uvicorn.run(create_app(settings, handlers), host="127.0.0.1", port=settings.port,
                log_level="warning")


if __name__ == "__main__":
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TASKLETTE_TEST_")}
    if sys.argv[1:] == ["serve"]:
        serve(load_settings(environ))
    else:
        worker.run(load_settings(environ), handlers, poll_seconds=0.1,
                   grace_seconds=float(os.environ.get("TASKLETTE_TEST_JOB_GRACE", "10")))
