"""Job workers as separate processes: SIGKILL mid-job, several workers on one queue, and
the `tasklette worker` and `tasklette jobs` commands."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklette.services import jobs
from tasklette.settings import Settings
from tasklette.storage.database import Database
from tests.live_server import _child_env, free_port
from tests.services.conftest import with_db

ROOT = Path(__file__).resolve().parent.parent.parent


class Worker:
    """A worker process (tests.job_worker, or `tasklette worker`) on `settings`' database."""

    def __init__(self, settings: Settings, log: Path, *command: str, **env: str) -> None:
        self.output = log.with_name(f"{log.stem}-{time.monotonic_ns()}.out")
        variables = {**_child_env(), "TASKLETTE_DATA_DIR": str(settings.data_dir),
                     "TASKLETTE_TEST_JOB_LOG": str(log), **env}
        if settings.database_url:
            variables["TASKLETTE_DATABASE_URL"] = settings.database_url
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *(command or ("tests.job_worker",))], cwd=ROOT,
                env=variables, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while "runs up to" not in self.output.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self.output.read_text()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Worker]]:
    """Workers started by a test; any still running at its end are stopped."""
    workers: list[Worker] = []
    yield workers
    for process in workers:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=15)


def lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def wait_for(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {timeout} s")
        time.sleep(0.05)


def job_row(settings: Settings, job_id: int) -> dict[str, Any]:
    return with_db(settings, lambda db: jobs.get(db, job_id))


def test_a_job_whose_worker_was_killed_runs_again_after_its_lease(
        settings: Settings, tmp_path: Path, started: list[Worker]) -> None:
    log = tmp_path / "jobs.log"
    job_id = with_db(settings, lambda db: jobs.submit(db, "test.slow", {"to": "bob"},
                                                      key="kill-9"))
    first = Worker(settings, log, TASKLETTE_JOB_LEASE_SECONDS="2")
    started.append(first)
    wait_for(lambda: ["slow", str(job_id), str(first.pid), "1"] in lines(log))
    first.process.kill()  # SIGKILL mid-job: nothing is finished or given back
    first.process.wait(timeout=15)
    killed_at = time.time()
    row = job_row(settings, job_id)
    assert row["state"] == "running" and row["locked_by"].split(":")[1] == str(first.pid)

    second = Worker(settings, log, TASKLETTE_JOB_LEASE_SECONDS="2")
    started.append(second)
    wait_for(lambda: job_row(settings, job_id)["state"] == "done")
    assert second.stop() == 0
    assert lines(log) == [["slow", str(job_id), str(first.pid), "1"],
                          ["slow", str(job_id), str(second.pid), "2"]]
    row = job_row(settings, job_id)
    assert (row["attempts"], row["locked_by"]) == (2, None)
    assert time.time() - killed_at < 30


def test_two_worker_processes_run_each_of_200_jobs_once(
        settings: Settings, tmp_path: Path, started: list[Worker]) -> None:
    log = tmp_path / "jobs.log"

    async def enqueue(db: Database) -> list[int]:
        async with db.transaction() as tx:
            return [job_id for n in range(200)
                    if (job_id := await jobs.enqueue(tx, "test.record", {"n": n})) is not None]

    with_db(settings, lambda db: jobs.list_jobs(db))  # the schema, before both start
    workers = [Worker(settings, log), Worker(settings, log)]
    started.extend(workers)
    ids = with_db(settings, enqueue)

    async def counts(db: Database) -> dict[str, int]:
        return (await jobs.list_jobs(db)).counts

    wait_for(lambda: with_db(settings, counts)["done"] == 200, timeout=120)
    assert [process.stop() for process in workers] == [0, 0]
    runs = lines(log)
    assert sorted(int(job_id) for _, job_id, _, _ in runs) == ids  # each once, none twice
    by_process = Counter(pid for _, _, pid, _ in runs)
    assert set(by_process) == {str(process.pid) for process in workers}, by_process


def test_a_job_survives_a_sigkill_of_the_server_and_runs_after_restart(
        settings: Settings, tmp_path: Path) -> None:
    """The server's own runner (in its lifespan) is the same runner: killed mid-job, the
    job is still there, and the restarted server runs it again after the lease."""
    log = tmp_path / "jobs.log"
    port = free_port()
    env = {**_child_env(), "TASKLETTE_DATA_DIR": str(settings.data_dir),
           "TASKLETTE_PORT": str(port), "TASKLETTE_JOB_LEASE_SECONDS": "2",
           "TASKLETTE_TEST_JOB_LOG": str(log)}
    if settings.database_url:
        env["TASKLETTE_DATABASE_URL"] = settings.database_url

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "tests.job_worker", "serve"],
                                   cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        with httpx.Client(timeout=2) as client:
            def up() -> bool:
                assert process.poll() is None, "the server stopped"
                try:
                    return client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                except httpx.TransportError:
                    return False
            wait_for(up)
        return process

    server = start()
    try:
        job_id = with_db(settings, lambda db: jobs.submit(db, "test.slow", {}))
        wait_for(lambda: ["slow", str(job_id), str(server.pid), "1"] in lines(log))
        server.kill()
        server.wait(timeout=15)
        server = start()
        wait_for(lambda: job_row(settings, job_id)["state"] == "done")
        assert lines(log) == [["slow", str(job_id), str(pid), str(attempt)] for pid, attempt
                              in ((lines(log)[0][2], 1), (server.pid, 2))]
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


# --- the commands ------------------------------------------------------------------------


def tasklette(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        where += ["--database", settings.database_url]
    return subprocess.run([sys.executable, "-m", "tasklette", *args, *where],
                          capture_output=True, text=True, timeout=60, env=_child_env())


def test_tasklette_worker_runs_jobs_and_stops_on_sigterm(
        settings: Settings, tmp_path: Path, started: list[Worker]) -> None:
    log = tmp_path / "jobs.log"
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        where += ["--database", settings.database_url]
    worker = Worker(settings, log, "tasklette", "worker", *where)
    started.append(worker)
    # Tasklette has no kinds of job yet: one it does not know fails, saying so.
    job_id = with_db(settings, lambda db: jobs.submit(db, "test.unknown", {}))
    wait_for(lambda: job_row(settings, job_id)["state"] == "failed")
    assert "no handler for jobs of kind 'test.unknown'" in job_row(settings, job_id)[
        "last_error"]
    assert worker.stop() == 0


def test_jobs_list_retry_and_purge(settings: Settings) -> None:
    async def prepare(db: Database) -> tuple[int, int]:
        from tasklette.services import job_runner

        failed = await jobs.submit(db, "test.mail", {"to": "bob"}, key="mail-1",
                                   max_attempts=1)
        [job] = await job_runner.claim(db, "cli-test", 1, 60)
        await job_runner.record_failure(db, job, "cli-test", "SMTPError: 451 try later",
                                        permanent=False, delay=0)
        queued = await jobs.submit(db, "test.mail", {"to": "cy"})
        assert failed is not None and queued is not None
        return failed, queued

    failed, queued = with_db(settings, prepare)
    listed = tasklette(settings, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    assert "1 queued  0 running  0 done  1 failed" in listed.stdout
    assert "last error: SMTPError: 451 try later" in listed.stdout
    assert "key mail-1" in listed.stdout
    only_failed = tasklette(settings, "jobs", "list", "--state", "failed").stdout
    assert f"{failed:>8}  failed" in only_failed and f"{queued:>8}  queued" not in only_failed

    bad_state = tasklette(settings, "jobs", "list", "--state", "stuck")
    assert bad_state.returncode != 0 and "Traceback" not in bad_state.stderr
    assert "there is no job state 'stuck': use one of queued, running, done, failed" \
        in bad_state.stderr
    not_a_number = tasklette(settings, "jobs", "retry", "seven")
    assert not_a_number.returncode == 2 and "Traceback" not in not_a_number.stderr
    assert "'seven' is not a whole number" in not_a_number.stderr
    not_failed = tasklette(settings, "jobs", "retry", str(queued))
    assert not_failed.returncode == 1 and "Traceback" not in not_failed.stderr
    assert f"job {queued} is queued: only a failed job can be retried" in not_failed.stderr
    missing = tasklette(settings, "jobs", "retry", "424242")
    assert missing.returncode == 1 and "there is no job 424242" in missing.stderr

    retried = tasklette(settings, "jobs", "retry", str(failed))
    assert retried.returncode == 0, retried.stderr
    assert f"Job {failed} (test.mail) is queued again." in retried.stdout
    assert job_row(settings, failed)["state"] == "queued"

    async def finish_one(db: Database) -> None:
        from tasklette.services import job_runner

        for job in await job_runner.claim(db, "cli-test", 1, 60):
            await job_runner.record_done(db, job, "cli-test")

    with_db(settings, finish_one)
    assert "Deleted 0 jobs" in tasklette(settings, "jobs", "purge").stdout
    purged = tasklette(settings, "jobs", "purge", "--older-than-days", "0")
    assert purged.returncode == 0 and "Deleted 1 job finished more than 0 days ago." \
        in purged.stdout
    assert "0 done" in tasklette(settings, "jobs", "list").stdout
    bad_days = tasklette(settings, "jobs", "purge", "--older-than-days", "-1")
    assert bad_days.returncode == 2 and "Traceback" not in bad_days.stderr


def test_stopping_while_running_gives_the_job_back(settings: Settings, tmp_path: Path,
                                                   started: list[Worker]) -> None:
    log = tmp_path / "jobs.log"
    job_id = with_db(settings, lambda db: jobs.submit(db, "test.slow", {}))
    worker = Worker(settings, log, TASKLETTE_TEST_JOB_GRACE="0.5")
    started.append(worker)
    wait_for(lambda: bool(lines(log)))
    assert worker.stop() == 0  # SIGTERM: the job is cut short after the grace period
    row = job_row(settings, job_id)
    assert (row["state"], row["attempts"], row["locked_by"]) == ("queued", 0, None)


