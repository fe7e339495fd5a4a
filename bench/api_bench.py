"""API benchmark: the real `tasklette serve` under wrk, against bare Starlette.

    uv run python bench/api_bench.py [--duration 10] [--warmup 2] [--threads 1]

What it does, in one run (about 3 minutes with the defaults):

1. seeds a fresh data directory through the service layer, in-process: 20 projects
   x 500 tasks with labels, assignees and comments, all owned by one user whose
   API token the load generator uses;
2. serves bench/bare_app.py (bare Starlette, one JSON endpoint, the uvicorn
   settings of `tasklette serve`) and measures it at 1 and 50 connections;
3. serves the seeded directory with `tasklette serve --data-dir DIR --port P`
   (1 worker, as a user runs it), checks each scenario once by hand, and keeps the
   first page of 100 tasks of every project exactly as Tasklette answered it;
4. serves those pages from memory with bare_app.py --pages (Starlette's
   `JSONResponse` re-serialising the parsed page per request: no database, no
   authentication) and measures it with the list scenario's own wrk script: the
   "same page from memory" baseline of list 100 tasks;
5. measures Tasklette: list 100 tasks, get one task, create a task, move a task,
   each at 1 and 50 connections, with wrk and the Lua scripts in bench/wrk/;
6. prints a table (req/s, p50, p99, ratio to the scenario's baseline, non-2xx,
   targets, each with its verdict) and writes bench/results/api-<timestamp>.json.

With `--database postgresql://...` it seeds and serves a fresh PostgreSQL database
(tasklette_bench_<pid>, dropped at the end unless --keep-data); with `--workers N` it
serves `tasklette serve --workers N` and bare Starlette with N uvicorn workers (the
ratios use that baseline; bare Starlette with 1 worker is measured too, for
reference). Seeding lives in bench/seed.py; bench/scale_bench.py compares engines
and worker counts.

It is a benchmark, not a test: it exits 0 when the targets are missed (exit 1
only when a scenario returned errors or could not run; see --strict).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime as dt
import functools
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg

from seed import (  # bench/ is on sys.path when this file is run as a script
    LABELS,
    MEMBERS,
    OWNER,
    PASSWORD,
    Seeded,
    _gather_batches,
    _words,
    create_pg_database,
    create_team,
    drop_pg_database,
    pg_backend_pids,
    seed,
    write_lua_data,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WRK_DIR = BENCH / "wrk"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT / "src"))  # also works when run without `uv run`

# The names other benchmarks import from here that now live in seed.py (so that ruff
# sees them as re-exported, not unused); everything else is public as before.
__all__ = ["LABELS", "MEMBERS", "OWNER", "PASSWORD", "_gather_batches", "_words",
           "create_team"]


# --- servers ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies without cleaning up (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """A server subprocess of ours: started, awaited, measured, stopped by its pid."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path,
                 health_path: str) -> None:
        self.name, self.argv, self.port, self.log_path = name, argv, port, log_path
        self.health_path = health_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        # Default settings, whatever this shell exports: only the flags of argv count.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLETTE_")}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(self.url + self.health_path, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n"
                           + self.log_tail())

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far: its process and all descendants
        (the worker processes of `--workers N`), every thread."""
        assert self.proc is not None
        pids = process_tree(self.proc.pid)
        if not pids:
            return float("nan")
        return cpu_seconds_of(pids)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 = state), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(root: int) -> list[int]:
    """`root` and its living descendants (empty if `root` is gone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    if _proc_stat(root) is None:
        return []
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def cpu_seconds_of(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (gone ones count 0)."""
    ticks = 0
    for pid in pids:
        if fields := _proc_stat(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    try:
        server.start()
        yield server
    finally:
        server.stop()


def tasklette_argv(data_dir: Path, port: int, database_url: str = "",
                   workers: int = 1) -> list[str]:
    script = Path(sys.executable).parent / "tasklette"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "tasklette"]
    argv = [*base, "serve", "--data-dir", str(data_dir), "--port", str(port)]
    if database_url:
        argv += ["--database", database_url]
    if workers != 1:
        argv += ["--workers", str(workers)]
    return argv


def bare_argv(port: int, workers: int = 1, pages: Path | None = None) -> list[str]:
    argv = [sys.executable, str(BENCH / "bare_app.py"), str(port)]
    if pages is not None:
        argv += ["--pages", str(pages)]
    return argv if workers == 1 else [*argv, "--workers", str(workers)]


def save_pages(base: str, seeded: Seeded, path: Path) -> None:
    """Every project's first page of 100 tasks, as Tasklette answers it, to `path`."""
    pages = {}
    for project in seeded.projects:
        req = urllib.request.Request(f"{base}/api/v1/projects/{project['id']}/tasks?limit=100",
                                     headers={"Authorization": f"Bearer {seeded.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            pages[str(project["id"])] = json.loads(resp.read())
    path.write_text(json.dumps(pages, ensure_ascii=False))


def with_worker_fix(argv: list[str], fix: str) -> list[str]:
    """`argv` run through bench/uvicorn_workers.py with `--nodelay` or `--reuseport`:
    fixes for uvicorn's multi-worker mode (see that file)."""
    program = argv[1:] if argv[0] == sys.executable else argv
    return [sys.executable, str(BENCH / "uvicorn_workers.py"), f"--{fix}", *program]


# --- checks before measuring ---------------------------------------------------------


def _call(url: str, token: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def preflight(base: str, seeded: Seeded, n_tasks: int) -> list[str]:
    """Send each scenario's request once and check the answer; return the problems."""
    problems: list[str] = []
    token = seeded.token
    project = seeded.projects[0]
    pid = project["id"]

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    status, cols = _call(f"{base}/api/v1/projects/{pid}/columns", token)
    expect(status == 200 and [c["id"] for c in cols] == project["columns"],
           f"columns of project {pid}: {status} {cols!r:.200}")
    status, page = _call(f"{base}/api/v1/projects/{pid}/tasks?limit=100", token)
    if status != 200:
        problems.append(f"list: {status} {page!r:.300}")
    else:
        items = page["items"]
        expect(len(items) == min(100, n_tasks),
               f"list: {len(items)} items, not {min(100, n_tasks)}")
        expect((page.get("next_cursor") is not None) == (n_tasks > 100),
               f"list: next_cursor {page.get('next_cursor')!r} with {n_tasks} tasks")
        expect(all("labels" in t and "assignees" in t for t in items),
               "list: tasks without labels/assignees")
        expect(any(t["labels"] for t in items) and any(t["assignees"] for t in items),
               "list: no task in the page has labels or assignees")
        seen = set()
        total, cursor = 0, None
        while True:
            url = f"{base}/api/v1/projects/{pid}/tasks?limit=200"
            if cursor:
                url += f"&cursor={cursor}"
            status, page = _call(url, token)
            if status != 200:
                problems.append(f"list paging: {status} {page!r:.300}")
                break
            total += len(page["items"])
            seen.update(t["id"] for t in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        expect(total == n_tasks == len(seen),
               f"list paging: {total} tasks ({len(seen)} distinct), seeded {n_tasks}")

    task_id = seeded.task_ids[len(seeded.task_ids) // 2]
    status, task = _call(f"{base}/api/v1/tasks/{task_id}", token)
    expect(status == 200 and isinstance(task, dict) and task.get("id") == task_id,
           f"get: {status} {task!r:.300}")

    status, made = _call(f"{base}/api/v1/projects/{pid}/tasks", token, "POST",
                         {"title": "Preflight task"})
    expect(status == 201 and isinstance(made, dict) and made.get("title") == "Preflight task"
           and made.get("column_id") == project["columns"][0],
           f"create: {status} {made!r:.300}")

    target = project["columns"][1]
    moving = seeded.task_ids[0]
    status, moved = _call(f"{base}/api/v1/tasks/{moving}/move", token, "POST",
                          {"column_id": target, "position": 3})
    expect(status == 200 and isinstance(moved, dict) and moved.get("column_id") == target
           and moved.get("position") == 3, f"move: {status} {moved!r:.300}")
    return problems


# --- measuring -------------------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    label: str
    script: str
    path: str  # shown in the report only; the Lua script makes the real requests
    ratio_target: float | None = None  # of the baseline's req/s at the same connection count
    baseline: str = "bare"  # key of the scenario whose req/s the ratio is taken against
    rps_target: float | None = None
    p99_target_ms: float | None = None  # at 50 connections


SCENARIOS = (
    Scenario("list", "list 100 tasks", "list_tasks.lua",
             "GET /api/v1/projects/{pid}/tasks?limit=100", ratio_target=1.0,
             p99_target_ms=25, baseline="page"),
    Scenario("get", "get one task", "get_task.lua", "GET /api/v1/tasks/{id}",
             ratio_target=0.40, p99_target_ms=25),
    Scenario("create", "create task", "create_task.lua",
             "POST /api/v1/projects/{pid}/tasks", rps_target=1000, p99_target_ms=25),
    Scenario("move", "move task", "move_task.lua", "POST /api/v1/tasks/{id}/move",
             rps_target=1000, p99_target_ms=25),
)
BARE = Scenario("bare", "bare Starlette", "bare.lua", "GET / (bench/bare_app.py)")
BARE_1_WORKER = replace(BARE, key="bare-1w", label="bare Starlette (1 worker)")
# The list scenario's baseline: bare_app.py --pages answering the list script's requests
# with the page Tasklette gave for that project, from memory, through JSONResponse.
PAGE = Scenario("page", "same page, memory", "list_tasks.lua",
                "GET /api/v1/projects/{pid}/tasks?limit=100 (bare_app.py --pages)")
BASELINE_LABELS = {"bare": "bare Starlette", "page": "the same page from memory"}
P99_TARGET_CONNECTIONS = 50


@dataclass
class Result:
    scenario: str
    label: str
    path: str
    connections: int
    threads: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses" (it counts status > 399)
    socket_errors: dict[str, int]
    bytes_per_response: float
    server_cpu_pct: float  # of one core, while wrk ran
    wrk_cpu_pct: float
    other_cpu_pct: float  # the rest of the machine's busy CPU (other processes): noise
    steal_pct: float  # CPU the hypervisor took (of one core)
    wrk_output: str
    vs_bare: float | None = None  # req/s over the baseline's (`baseline`), same connections
    baseline: str | None = None
    verdicts: list[str] = field(default_factory=list)
    missed: bool = False
    db_cpu_pct: float | None = None  # PostgreSQL: its backends serving our database
    workers: int = 1  # server processes (uvicorn --workers)
    process_cpu_pct: list[float] = field(default_factory=list)  # per server process, busiest
    # first (with --workers N: how evenly the workers shared the connections)


def machine_ticks() -> tuple[int, int]:
    """(busy, steal) clock ticks of the whole machine so far, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def wait_for_quiet(server: Server, max_wait: float, threshold_pct: float = 20.0) -> float:
    """Wait (up to `max_wait` s) until other processes use < threshold_pct of a core.

    The machine may be shared (a test suite running beside the benchmark); measuring
    then gives low figures. Returns the other processes' CPU % seen last.
    """
    deadline = time.monotonic() + max_wait
    told = False
    tick = os.sysconf("SC_CLK_TCK")
    while True:
        busy0, _ = machine_ticks()
        server0, started = server.cpu_seconds(), time.perf_counter()
        time.sleep(0.5)
        busy1, _ = machine_ticks()
        wall = time.perf_counter() - started
        other = 100 * ((busy1 - busy0) / tick - (server.cpu_seconds() - server0)) / wall
        if other < threshold_pct or time.monotonic() >= deadline:
            return max(other, 0.0)
        if not told:
            print(f"    (other processes use {other:.0f}% CPU: waiting up to "
                  f"{max_wait:g} s for them)", flush=True)
            told = True


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds_of([pid]) for pid in pids}


def run_wrk(server: Server, scenario: Scenario, connections: int, threads: int,
            duration: float, data_lua: Path, timeout_s: float,
            db_pids: Callable[[], list[int]] | None = None) -> Result:
    """One wrk run. `db_pids` lists the database server's processes that serve us
    (PostgreSQL backends): their CPU is reported apart from "other"."""
    threads = max(1, min(threads, connections))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s",
            f"--timeout={timeout_s:g}s", "--latency", "-s", str(WRK_DIR / scenario.script),
            server.url, "--", str(data_lua)]
    db_before = _cpu_by_pid(db_pids()) if db_pids else {}
    assert server.proc is not None
    tree_before = _cpu_by_pid(process_tree(server.proc.pid))
    cpu_before = server.cpu_seconds()
    machine_before = machine_ticks()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                          check=False, preexec_fn=_die_with_parent)
    wall = time.perf_counter() - wall
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu_seconds() - cpu_before
    tree_after = _cpu_by_pid(sorted(tree_before))
    machine_after = machine_ticks()
    db_cpu = None
    if db_pids:  # backends that appeared during the run count from 0
        db_after = _cpu_by_pid(sorted(set(db_pids()) | set(db_before)))
        db_cpu = sum(max(0.0, after - db_before.get(pid, 0.0))
                     for pid, after in db_after.items() if after)
    tick = os.sysconf("SC_CLK_TCK")
    busy = (machine_after[0] - machine_before[0]) / tick
    steal = (machine_after[1] - machine_before[1]) / tick
    wrk_cpu = ((children_after.ru_utime + children_after.ru_stime)
               - (children_before.ru_utime + children_before.ru_stime))
    output = proc.stdout + proc.stderr
    match = re.search(r"^BENCH_JSON (.*)$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {' '.join(argv)}\n{output}")
    stats = json.loads(match.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    lat = stats["latency_us"]
    requests = stats["requests"]
    seconds = stats["duration_us"] / 1e6
    errors = {k: v for k, v in stats["errors"].items() if k != "status"}
    return Result(
        scenario=scenario.key, label=scenario.label, path=scenario.path,
        connections=connections, threads=threads, duration_s=round(seconds, 3),
        requests=requests, rps=requests / seconds if seconds else 0.0,
        p50_ms=lat["p50"] / 1000, p90_ms=lat["p90"] / 1000, p99_ms=lat["p99"] / 1000,
        max_ms=lat["max"] / 1000,
        non_2xx=int(non_2xx.group(1)) if non_2xx else stats["errors"]["status"],
        socket_errors=errors,
        bytes_per_response=stats["bytes"] / requests if requests else 0.0,
        server_cpu_pct=100 * server_cpu / wall, wrk_cpu_pct=100 * wrk_cpu / wall,
        other_cpu_pct=max(0.0, 100 * (busy - server_cpu - wrk_cpu - (db_cpu or 0)) / wall),
        steal_pct=100 * steal / wall,
        wrk_output=output.replace(match.group(0), "").strip(),
        db_cpu_pct=None if db_cpu is None else 100 * db_cpu / wall,
        process_cpu_pct=sorted((round(100 * (tree_after[pid] - cpu) / wall, 1)
                                for pid, cpu in tree_before.items()
                                if tree_after[pid] - cpu > 0.01 * wall), reverse=True))


def judge(result: Result, scenario: Scenario, baseline_rps: float | None) -> None:
    """Ratio to the scenario's baseline (req/s at the same connection count) and verdicts."""
    if baseline_rps:
        result.vs_bare = result.rps / baseline_rps
        result.baseline = scenario.baseline
    if scenario.ratio_target is not None:
        ok = result.vs_bare is not None and result.vs_bare >= scenario.ratio_target
        result.verdicts.append(f"≥{scenario.ratio_target:.0%} {scenario.baseline} "
                               f"{'ok' if ok else 'MISS'}")
        result.missed |= not ok
    if scenario.rps_target is not None:
        ok = result.rps >= scenario.rps_target
        result.verdicts.append(f"≥{scenario.rps_target:,.0f} req/s {'ok' if ok else 'MISS'}")
        result.missed |= not ok
    if scenario.p99_target_ms is not None and result.connections == P99_TARGET_CONNECTIONS:
        ok = result.p99_ms < scenario.p99_target_ms
        result.verdicts.append(f"p99<{scenario.p99_target_ms:g}ms {'ok' if ok else 'MISS'}")
        result.missed |= not ok
    errors = result.non_2xx + sum(result.socket_errors.values())
    if errors:
        result.verdicts.append(f"ERRORS {errors}")


# --- report ----------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    with_db = any(r.db_cpu_pct is not None for r in results)  # PostgreSQL runs only
    split = any(r.workers > 1 for r in results)  # CPU of each server process
    head = ("scenario", "conns", "req/s", "p50 ms", "p99 ms", "vs baseline", "non-2xx",
            "sock err", "srv CPU", *(("per process",) if split else ()), "wrk CPU",
            *(("db CPU",) if with_db else ()),
            "other CPU", "B/resp", "targets")
    rows = [head]
    for r in results:
        ratio = "-" if r.vs_bare is None else f"{r.vs_bare:.2f}x {r.baseline or 'bare'}"
        db = () if not with_db else ("-" if r.db_cpu_pct is None else f"{r.db_cpu_pct:.0f}%",)
        per = () if not split else ("+".join(f"{c:.0f}" for c in r.process_cpu_pct) or "-",)
        rows.append((r.label, str(r.connections), f"{r.rps:,.0f}", f"{r.p50_ms:.2f}",
                     f"{r.p99_ms:.2f}", ratio, str(r.non_2xx),
                     str(sum(r.socket_errors.values())), f"{r.server_cpu_pct:.0f}%", *per,
                     f"{r.wrk_cpu_pct:.0f}%", *db, f"{r.other_cpu_pct:.0f}%",
                     f"{r.bytes_per_response:,.0f}",
                     ", ".join(r.verdicts) or "-"))
    return format_table(rows, right=set(range(1, len(head) - 1)))


def format_table(rows: list[tuple[str, ...]], right: set[int]) -> str:
    """Plain-text columns: rows[0] is the header; columns in `right` are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def read_server_log(text: str) -> tuple[list[str], int]:
    """(lines worth a look, ClientDisconnect records) of the server's log.

    A record starts at a timestamped line and runs to the next; records that are only
    a client going away (wrk stops with requests in flight) are counted, not listed.
    """
    records: list[list[str]] = []
    for line in text.splitlines():
        if not records or re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line):
            records.append([])
        records[-1].append(line)
    notes, disconnects = [], 0
    for record in records:
        flagged = [line for line in record
                   if re.search(r"WARNING|ERROR|Traceback|database is busy", line)]
        if flagged and record[-1].strip() == "starlette.requests.ClientDisconnect":
            disconnects += 1
        else:
            notes += flagged
    return notes, disconnects


def targets_text() -> str:
    return ("targets: get one ≥ 40% of bare Starlette's req/s; list 100 ≥ 100% of the same "
            "page served from memory by bare Starlette (page) (same connection count); "
            "create and move ≥ 1,000 req/s each; p99 < 25 ms at 50 connections for all "
            "four; 0 non-2xx responses.")


def fsync_ms(directory: Path, rounds: int = 30) -> float:
    """Median time of a 4 KiB write + fsync in `directory`: what one commit waits for."""
    path = directory / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for i in range(rounds):
            started = time.perf_counter()
            os.pwrite(fd, os.urandom(4096), i * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return sorted(times)[len(times) // 2] * 1000


def machine_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=False, timeout=10).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True,
                                 check=False).stdout.splitlines()[:1]
    import starlette
    import uvicorn

    return {
        "git_commit": git("rev-parse", "HEAD"), "git_dirty": bool(git("status", "--porcelain")),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": cpu, "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(),
        "starlette": starlette.__version__, "uvicorn": uvicorn.__version__,
        "wrk": wrk_version[0] if wrk_version else "",
        "tasklette_env": {k: v for k, v in os.environ.items() if k.startswith("TASKLETTE_")},
    }


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10,
                        help="seconds of measurement per scenario and connection count "
                             "(default 10)")
    parser.add_argument("--warmup", type=float, default=2,
                        help="seconds of unmeasured load before each measurement (default 2; "
                             "0 for none)")
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (default 1: the server is one process on a "
                             "2-core machine; more threads take its CPU)")
    parser.add_argument("--connections", default="1,50",
                        help="comma-separated connection counts (default 1,50)")
    parser.add_argument("--scenarios", default="list,get,create,move",
                        help="comma-separated subset of list,get,create,move")
    parser.add_argument("--quiet-wait", type=float, default=15,
                        help="before each measurement, wait up to this many seconds for "
                             "other processes to go quiet (default 15; 0: do not wait)")
    parser.add_argument("--accept-encoding", default="", metavar="VALUE",
                        help="send this Accept-Encoding header (e.g. gzip, as HTTP client "
                             "libraries do) so that the app compresses responses of 1 KiB "
                             "or more; default: none, so responses are not compressed")
    parser.add_argument("--database", default="", metavar="URL",
                        help="a PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:5432: "
                             "seed and serve on a fresh database tasklette_bench_<pid> there "
                             "(dropped at the end unless --keep-data); default: SQLite in "
                             "the temporary data directory")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes: `tasklette serve --workers N` (PostgreSQL "
                             "only); bare Starlette is then served with N uvicorn workers too "
                             "(the ratios use it), and with 1 for reference (default 1)")
    parser.add_argument("--worker-fix", choices=("none", "nodelay", "reuseport"),
                        default="none",
                        help="with --workers > 1, serve both apps through "
                             "bench/uvicorn_workers.py: nodelay = TCP_NODELAY on the "
                             "connections (uvicorn's multi-worker socket lacks it: ~40 ms "
                             "per keep-alive request, Kludex/uvicorn#3149); reuseport = "
                             "that, and one SO_REUSEPORT listener per worker, so that "
                             "wrk's connections are spread over the workers instead of "
                             "mostly landing on one. Default none: `tasklette serve` as "
                             "shipped")
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--tasks-per-project", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data")
    parser.add_argument("--seed-batch", type=int, default=500,
                        help="service calls run concurrently while seeding (default 500)")
    parser.add_argument("--wrk-timeout", type=float, default=10,
                        help="wrk's per-request timeout in seconds (default 10)")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the seeded data directory, server logs and PostgreSQL "
                             "database")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default bench/results/api-<time>.json)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed, too")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    if args.database and not args.database.startswith(("postgresql://", "postgres://")):
        parser.error("--database takes a postgresql:// URL")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers > 1 and not args.database:
        parser.error("--workers N needs --database: on SQLite, `tasklette serve` runs as one "
                     "process")
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(wanted) - {s.key for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.scenarios = [s for s in SCENARIOS if s.key in wanted]
    return args


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="tasklette-bench-"))
    data_dir = work / "data"
    info = machine_info()
    results: list[Result] = []
    problems: list[str] = []
    server_log_notes: list[str] = []
    disconnects = 0
    per_run = args.warmup + args.duration
    workers = args.workers
    worker_fix = args.worker_fix if workers > 1 and args.worker_fix != "none" else ""
    runs = len(args.connections) * (1 + len(args.scenarios) + (workers > 1))
    print(f"Tasklette API benchmark: {runs} runs of {args.duration:g} s (+{args.warmup:g} s "
          f"warm-up), wrk -t{args.threads}, about {runs * per_run / 60:.1f} min plus seeding")
    print(f"work dir {work}")
    if args.accept_encoding:
        print(f"every request sends Accept-Encoding: {args.accept_encoding}")
    # PostgreSQL: a fresh database of our own on the given server, dropped at the end.
    db_name = f"tasklette_bench_{os.getpid()}" if args.database else ""
    database_url = ""
    db_pids: Callable[[], list[int]] | None = None
    if args.database:
        print(f"database: PostgreSQL {db_name} on {args.database}", flush=True)
        db_pids = functools.partial(pg_backend_pids, args.database, db_name)
    if workers > 1:
        print(f"workers: {workers} (tasklette serve --workers {workers}; bare Starlette with "
              f"{workers} uvicorn workers, and with 1 for reference)"
              + (f"; both through bench/uvicorn_workers.py --{worker_fix}"
                 if worker_fix else ""), flush=True)
    try:
        if args.database:
            try:
                database_url = create_pg_database(args.database, db_name)
            except (OSError, asyncpg.PostgresError) as exc:
                raise RuntimeError(f"cannot create database {db_name}: {exc}") from exc
        print(f"seeding {args.projects} projects x {args.tasks_per_project} tasks ...",
              flush=True)
        seeded = asyncio.run(seed(data_dir, args.projects, args.tasks_per_project,
                                  random.Random(args.seed), args.seed_batch, database_url))
        counts = seeded.counts
        info["fsync_ms_median"] = round(fsync_ms(data_dir), 3)
        print(f"seeded in {seeded.seconds:.1f} s: " + ", ".join(
            f"{k} {v:,}" for k, v in counts.items()), flush=True)
        print(f"disk: write+fsync of 4 KiB takes {info['fsync_ms_median']:.2f} ms (median)",
              flush=True)
        if counts["tasks_with_unexpected_rank"]:
            problems.append(f"{counts['tasks_with_unexpected_rank']} seeded tasks have ranks "
                            "that are not 1024 apart within their column")
        data_lua = work / "data.lua"
        write_lua_data(seeded, data_lua, args.accept_encoding)

        def measure(server: Server, scenario: Scenario, conns: int, n_workers: int = 1,
                    db: Callable[[], list[int]] | None = None) -> Result:
            if args.quiet_wait > 0:
                wait_for_quiet(server, args.quiet_wait)
            if args.warmup > 0:
                run_wrk(server, scenario, conns, args.threads, args.warmup, data_lua,
                        args.wrk_timeout)
            result = run_wrk(server, scenario, conns, args.threads, args.duration, data_lua,
                             args.wrk_timeout, db)
            result.workers = n_workers
            print(f"  {scenario.label:<16} c={conns:<3} {result.rps:>9,.0f} req/s  "
                  f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                  f"non-2xx {result.non_2xx}  CPU server {result.server_cpu_pct:.0f}% "
                  f"other {result.other_cpu_pct:.0f}%",
                  flush=True)
            return result

        bare_rps: dict[int, float] = {}  # with as many workers as Tasklette: the ratios
        bare_runs = [(workers, BARE)]
        if workers > 1:
            bare_runs = [(workers, replace(BARE, label=f"bare Starlette ({workers} workers)")),
                         (1, BARE_1_WORKER)]
        for n_workers, bare_scenario in bare_runs:
            port = _free_port()
            log = work / ("bare.log" if n_workers == 1 else f"bare-{n_workers}w.log")
            argv = bare_argv(port, n_workers)
            if worker_fix and n_workers > 1:
                argv = with_worker_fix(argv, worker_fix)
            bare = Server("bare Starlette", argv, port, log, "/healthz")
            print(f"{bare_scenario.label}:", flush=True)
            with serving(bare):
                for conns in args.connections:
                    result = measure(bare, bare_scenario, conns, n_workers)
                    judge(result, bare_scenario, None)
                    if n_workers == workers:
                        bare_rps[conns] = result.rps
                    results.append(result)

        port = _free_port()
        argv = tasklette_argv(data_dir, port, database_url, workers)
        if worker_fix:
            argv = with_worker_fix(argv, worker_fix)
        app = Server("tasklette serve", argv, port, work / "tasklette.log", "/healthz")
        print(f"tasklette: {' '.join(app.argv)}", flush=True)
        baseline_rps: dict[str, dict[int, float]] = {"bare": bare_rps}
        with serving(app):
            found = preflight(app.url, seeded, args.tasks_per_project)
            problems += [f"preflight: {p}" for p in found]
            for p in found:
                print(f"  PREFLIGHT PROBLEM: {p}", flush=True)
            if any(s.baseline == PAGE.key for s in args.scenarios):
                pages = work / "pages.json"
                save_pages(app.url, seeded, pages)
                port = _free_port()
                argv = bare_argv(port, workers, pages)
                if worker_fix:
                    argv = with_worker_fix(argv, worker_fix)
                page_server = Server("bare Starlette --pages", argv, port, work / "page.log",
                                     "/healthz")
                print(f"{PAGE.label} (bare_app.py --pages, {workers} worker(s)):", flush=True)
                baseline_rps[PAGE.key] = {}
                with serving(page_server):
                    for conns in args.connections:
                        result = measure(page_server, PAGE, conns, workers)
                        judge(result, PAGE, None)
                        baseline_rps[PAGE.key][conns] = result.rps
                        results.append(result)
                print("tasklette:", flush=True)
            for scenario in args.scenarios:
                for conns in args.connections:
                    result = measure(app, scenario, conns, workers, db_pids)
                    judge(result, scenario, baseline_rps[scenario.baseline].get(conns))
                    results.append(result)
            server_log = app.log_tail(10_000)
        server_log_notes, disconnects = read_server_log(server_log)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"\nbenchmark failed, servers stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep_data:
            print(f"kept {work}" + (f" and database {database_url}" if database_url else ""))
        else:
            shutil.rmtree(work, ignore_errors=True)
            if database_url:  # the servers are stopped: nothing holds the database
                try:
                    drop_pg_database(args.database, db_name)
                except (OSError, asyncpg.PostgresError) as exc:
                    print(f"could not drop database {db_name}: {exc}", file=sys.stderr)

    print()
    print(table(results))
    print()
    print(targets_text())
    print("vs baseline: req/s over the baseline's at the same connection count (bare: bare "
          "Starlette's small JSON endpoint; page: bare Starlette serving the same page of "
          "tasks from memory with JSONResponse). CPU, 100% = one "
          "core of 2, during the run: srv = the server process, wrk = the load generator, "
          "other = everything else on the machine (noise: figures from runs with much "
          "other CPU are low).")
    if args.database or workers > 1:
        print(f"{workers} worker(s): srv CPU sums all the server's processes (up to 200%), "
              "per process splits it (busiest first)"
              + ("; db = the PostgreSQL backends serving the benchmark database"
                 if args.database else "") + "; vs baseline compares with bare Starlette "
              f"served with {workers} worker(s).")
    noisy = [f"{r.label} c={r.connections} ({r.other_cpu_pct:.0f}%)" for r in results
             if r.other_cpu_pct > 25]
    if noisy:
        print("WARNING: other processes were busy during: " + ", ".join(noisy)
              + " -- those figures are low; rerun on an idle machine.")
    if server_log_notes:
        print(f"server log: {len(server_log_notes)} warnings/errors, first: "
              f"{server_log_notes[0]}")
    if disconnects:
        print(f"server log: {disconnects} ClientDisconnect errors (logged with a traceback) "
              "-- wrk closing connections with requests in flight when a run ends; not "
              "counted above")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    errors = sum(r.non_2xx + sum(r.socket_errors.values()) for r in results)
    missed = [f"{r.label} c={r.connections}" for r in results if r.missed]
    print(f"non-2xx responses: {sum(r.non_2xx for r in results)}; socket errors: "
          f"{sum(sum(r.socket_errors.values()) for r in results)}; targets missed: "
          f"{', '.join(missed) if missed else 'none'}")

    output = args.output or RESULTS / f"api-{stamp}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "benchmark": "api", "timestamp": stamp, "machine": info,
        "settings": {"duration_s": args.duration, "warmup_s": args.warmup,
                     "quiet_wait_s": args.quiet_wait,
                     "threads": args.threads, "connections": args.connections,
                     "projects": args.projects, "tasks_per_project": args.tasks_per_project,
                     "seed": args.seed, "wrk_timeout_s": args.wrk_timeout,
                     "accept_encoding": args.accept_encoding,
                     "database": "postgresql" if args.database else "sqlite",
                     "database_server": args.database, "database_name": db_name,
                     "workers": workers, "worker_fix": worker_fix or "none"},
        "seed": {"seconds": round(seeded.seconds, 2), "counts": counts},
        "targets": targets_text(), "problems": problems,
        "server_log_warnings": server_log_notes,
        "server_log_client_disconnects": disconnects,
        "results": [asdict(r) for r in results],
    }, indent=2, ensure_ascii=False) + "\n")
    print(f"results: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    if errors or problems or (args.strict and missed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
