"""API benchmark: the real `tasklette serve` under wrk, against bare Starlette.

    uv run python bench/api_bench.py [--duration 10] [--warmup 2] [--threads 1]

What it does, in one run (about 3 minutes with the defaults):

1. seeds a fresh data directory through the service layer, in-process: 20 projects
   x 500 tasks with labels, assignees and comments, all owned by one user whose
   API token the load generator uses;
2. serves bench/bare_app.py (bare Starlette, one JSON endpoint, the uvicorn
   settings of `tasklette serve`) and measures it at 1 and 50 connections;
3. serves the seeded directory with `tasklette serve --data-dir DIR --port P`
   (1 worker, as a user runs it), checks each scenario once by hand, then
   measures: list 100 tasks, get one task, create a task, move a task, each at 1
   and 50 connections, with wrk and the Lua scripts in bench/wrk/;
4. prints a table (req/s, p50, p99, ratio to bare Starlette, non-2xx, targets)
   and writes bench/results/api-<timestamp>.json.

It is a benchmark, not a test: it exits 0 when the targets are missed (exit 1
only when a scenario returned errors or could not run; see --strict).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime as dt
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WRK_DIR = BENCH / "wrk"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT / "src"))  # also works when run without `uv run`

PASSWORD = "bench-password-123"
OWNER = "bench"
MEMBERS = ("alice", "bob", "carol", "dave")  # editors of every project, besides the owner
LABELS = (("bug", "#e5484d"), ("feature", "#30a46c"), ("design", "#8e4ec6"),
          ("docs", "#0090ff"), ("infra", "#ffb224"), ("customer", "#12a594"))
WORDS = ("fix", "add", "remove", "refactor", "document", "test", "deploy", "review",
         "login", "export", "search", "billing", "sidebar", "upload", "report", "cache",
         "timeout", "dashboard", "invoice", "mobile", "keyboard", "shortcut", "filter",
         "pagination", "the", "a", "for", "when", "with", "after", "page", "error", "slow")


# --- seeding ---------------------------------------------------------------------------


@dataclass
class Seeded:
    token: str
    projects: list[dict[str, Any]]  # {"id": 1, "columns": [1, 2, 3]}
    task_ids: list[int]
    task_project: list[int]  # index into projects, per task
    counts: dict[str, int]
    seconds: float


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


async def _gather_batches(make: list[Callable[[], Any]], batch: int) -> list[Any]:
    """Run coroutine factories concurrently, `batch` at a time (so group commit groups)."""
    results: list[Any] = []
    for start in range(0, len(make), batch):
        results += await asyncio.gather(*(m() for m in make[start:start + batch]))
    return results


async def create_team(db: Any) -> list[Any]:
    """The bench owner and the members, as actors (owner first)."""
    from tasklette.services import users
    from tasklette.services.permissions import Actor

    rows = await asyncio.gather(
        users.create(db, OWNER, PASSWORD, "Bench Owner"),
        *(users.create(db, name, PASSWORD, name.title()) for name in MEMBERS))
    return [Actor(r["id"], r["username"], r["display_name"]) for r in rows]


async def _seed(data_dir: Path, n_projects: int, n_tasks: int, rng: random.Random,
                batch: int) -> Seeded:
    from tasklette.services import comments, labels, members, projects, tasks, tokens
    from tasklette.services.columns import list_for_project as list_columns
    from tasklette.services.tasks import TaskFields
    from tasklette.settings import load_settings
    from tasklette.storage.open import open_database

    started = time.perf_counter()
    settings = load_settings(environ={}, data_dir=data_dir)
    db = open_database(settings)
    try:
        actors = await create_team(db)
        owner = actors[0]
        _, secret = await tokens.create(db, owner, "api-bench")

        made = await asyncio.gather(*(
            projects.create(db, owner, f"Project {i + 1:02d}", _words(rng, 4, 12))
            for i in range(n_projects)))
        project_ids = [int(p["id"]) for p in made]
        await asyncio.gather(*(members.add(db, owner, pid, name, "editor")
                               for pid in project_ids for name in MEMBERS))
        label_rows = await asyncio.gather(*(labels.create(db, owner, pid, name, color)
                                            for pid in project_ids for name, color in LABELS))
        label_ids: dict[int, list[int]] = {pid: [] for pid in project_ids}
        for label in label_rows:
            label_ids[label["project_id"]].append(int(label["id"]))
        column_ids: dict[int, list[int]] = {}
        for pid in project_ids:
            cols = await list_columns(db, owner, pid)
            column_ids[pid] = [int(c["id"]) for c in sorted(cols, key=lambda c: c["position"])]

        usernames = [a.username for a in actors]
        today = dt.date.today()

        def task_factory(index: int, pid: int) -> Callable[[], Any]:
            columns = column_ids[pid]
            column = rng.choice(columns)
            due = None
            if rng.random() < 0.35:
                due = (today + dt.timedelta(days=rng.randint(-30, 90))).isoformat()
            fields = TaskFields(
                title=f"{_words(rng, 3, 8).capitalize()} #{index}",
                description=_words(rng, 0, 40),
                priority=rng.choice(("none", "none", "low", "medium", "high", "urgent")),
                due_date=due,
                completed=column == columns[-1],
                label_ids=rng.sample(label_ids[pid], rng.randint(0, 3)),
                assignees=rng.sample(usernames, rng.randint(0, 2)),
                column_id=column)
            actor = rng.choice(actors)
            return lambda: tasks.create(db, actor, pid, fields)

        factories = [task_factory(i, pid) for pid in project_ids for i in range(n_tasks)]
        created = await _gather_batches(factories, batch)
        task_ids = [int(t["id"]) for t in created]
        project_index = {pid: i + 1 for i, pid in enumerate(project_ids)}  # Lua: 1-based
        task_project = [project_index[int(t["project_id"])] for t in created]

        comment_factories = []
        for task_id in task_ids:
            for _ in range(rng.randint(0, 3)):
                author, body = rng.choice(actors), _words(rng, 3, 30).capitalize() + "."
                comment_factories.append(
                    lambda a=author, t=task_id, b=body: comments.create(db, a, t, b))
        await _gather_batches(comment_factories, batch)
    finally:
        await db.close()

    counts = _count_rows(settings.database_path)
    return Seeded(
        token=secret,
        projects=[{"id": pid, "columns": column_ids[pid]} for pid in project_ids],
        task_ids=task_ids, task_project=task_project, counts=counts,
        seconds=time.perf_counter() - started)


def _count_rows(path: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        counts = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                  for table in ("users", "projects", "project_members", "columns", "labels",
                                "tasks", "task_labels", "task_assignees", "comments",
                                "events")}
        # The ranks must be what the app writes: sparse, 1024 apart within a column.
        bad = conn.execute(
            "SELECT COUNT(*) FROM (SELECT column_id, rank, ROW_NUMBER() OVER "
            "(PARTITION BY column_id ORDER BY rank) AS n FROM tasks "
            "WHERE parent_task_id IS NULL) WHERE rank <> n * 1024").fetchone()[0]
        counts["tasks_with_unexpected_rank"] = bad
    finally:
        conn.close()
    counts["db_bytes"] = path.stat().st_size
    return counts


def write_lua_data(seeded: Seeded, path: Path, accept_encoding: str = "") -> None:
    def ints(values: list[int]) -> str:
        return ",".join(map(str, values))

    projects = ",\n".join(f"  {{id={p['id']}, columns={{{ints(p['columns'])}}}}}"
                          for p in seeded.projects)
    path.write_text(
        "-- Written by bench/api_bench.py: what the wrk scripts pick from.\n"
        f"return {{\ntoken={json.dumps(seeded.token)},\n"
        f"accept_encoding={json.dumps(accept_encoding)},\nprojects={{\n{projects}\n}},\n"
        f"task_ids={{{ints(seeded.task_ids)}}},\n"
        f"task_project={{{ints(seeded.task_project)}}},\n}}\n")


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
        """User + system CPU time of the server process (all its threads) so far."""
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    try:
        server.start()
        yield server
    finally:
        server.stop()


def tasklette_argv(data_dir: Path, port: int) -> list[str]:
    script = Path(sys.executable).parent / "tasklette"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "tasklette"]
    return [*base, "serve", "--data-dir", str(data_dir), "--port", str(port)]


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
    ratio_target: float | None = None  # of bare req/s at the same connection count
    rps_target: float | None = None
    p99_target_ms: float | None = None  # at 50 connections


SCENARIOS = (
    Scenario("list", "list 100 tasks", "list_tasks.lua",
             "GET /api/v1/projects/{pid}/tasks?limit=100", ratio_target=0.12,
             p99_target_ms=25),
    Scenario("get", "get one task", "get_task.lua", "GET /api/v1/tasks/{id}",
             ratio_target=0.40, p99_target_ms=25),
    Scenario("create", "create task", "create_task.lua",
             "POST /api/v1/projects/{pid}/tasks", rps_target=1000, p99_target_ms=25),
    Scenario("move", "move task", "move_task.lua", "POST /api/v1/tasks/{id}/move",
             rps_target=1000, p99_target_ms=25),
)
BARE = Scenario("bare", "bare Starlette", "bare.lua", "GET / (bench/bare_app.py)")
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
    vs_bare: float | None = None
    verdicts: list[str] = field(default_factory=list)
    missed: bool = False


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


def run_wrk(server: Server, scenario: Scenario, connections: int, threads: int,
            duration: float, data_lua: Path, timeout_s: float) -> Result:
    threads = max(1, min(threads, connections))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s",
            f"--timeout={timeout_s:g}s", "--latency", "-s", str(WRK_DIR / scenario.script),
            server.url, "--", str(data_lua)]
    cpu_before = server.cpu_seconds()
    machine_before = machine_ticks()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                          check=False, preexec_fn=_die_with_parent)
    wall = time.perf_counter() - wall
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu_seconds() - cpu_before
    machine_after = machine_ticks()
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
        other_cpu_pct=max(0.0, 100 * (busy - server_cpu - wrk_cpu) / wall),
        steal_pct=100 * steal / wall,
        wrk_output=output.replace(match.group(0), "").strip())


def judge(result: Result, scenario: Scenario, bare_rps: float | None) -> None:
    if bare_rps:
        result.vs_bare = result.rps / bare_rps
    if scenario.ratio_target is not None:
        ok = result.vs_bare is not None and result.vs_bare >= scenario.ratio_target
        result.verdicts.append(f"≥{scenario.ratio_target:.0%} bare {'ok' if ok else 'MISS'}")
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
    head = ("scenario", "conns", "req/s", "p50 ms", "p99 ms", "vs bare", "non-2xx",
            "sock err", "srv CPU", "wrk CPU", "other CPU", "B/resp", "targets")
    rows = [head]
    for r in results:
        ratio = "-" if r.vs_bare is None else f"{r.vs_bare:.2f}x {r.vs_bare:.1%}"
        rows.append((r.label, str(r.connections), f"{r.rps:,.0f}", f"{r.p50_ms:.2f}",
                     f"{r.p99_ms:.2f}", ratio, str(r.non_2xx),
                     str(sum(r.socket_errors.values())), f"{r.server_cpu_pct:.0f}%",
                     f"{r.wrk_cpu_pct:.0f}%", f"{r.other_cpu_pct:.0f}%",
                     f"{r.bytes_per_response:,.0f}",
                     ", ".join(r.verdicts) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    right = set(range(1, len(head) - 1))
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def targets_text() -> str:
    return ("targets: get one ≥ 40% of bare req/s; list 100 ≥ 12% of bare req/s "
            "(same connection count); create and move ≥ 1,000 req/s each; p99 < 25 ms "
            "at 50 connections for all four; 0 non-2xx responses.")


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
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--tasks-per-project", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data")
    parser.add_argument("--seed-batch", type=int, default=500,
                        help="service calls run concurrently while seeding (default 500)")
    parser.add_argument("--wrk-timeout", type=float, default=10,
                        help="wrk's per-request timeout in seconds (default 10)")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the seeded data directory and server logs")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default bench/results/api-<time>.json)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed, too")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
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
    per_run = args.warmup + args.duration
    runs = len(args.connections) * (1 + len(args.scenarios))
    print(f"Tasklette API benchmark: {runs} runs of {args.duration:g} s (+{args.warmup:g} s "
          f"warm-up), wrk -t{args.threads}, about {runs * per_run / 60:.1f} min plus seeding")
    print(f"work dir {work}")
    if args.accept_encoding:
        print(f"every request sends Accept-Encoding: {args.accept_encoding}")
    try:
        print(f"seeding {args.projects} projects x {args.tasks_per_project} tasks ...",
              flush=True)
        seeded = asyncio.run(_seed(data_dir, args.projects, args.tasks_per_project,
                                   random.Random(args.seed), args.seed_batch))
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

        def measure(server: Server, scenario: Scenario, conns: int) -> Result:
            if args.quiet_wait > 0:
                wait_for_quiet(server, args.quiet_wait)
            if args.warmup > 0:
                run_wrk(server, scenario, conns, args.threads, args.warmup, data_lua,
                        args.wrk_timeout)
            result = run_wrk(server, scenario, conns, args.threads, args.duration, data_lua,
                             args.wrk_timeout)
            print(f"  {scenario.label:<16} c={conns:<3} {result.rps:>9,.0f} req/s  "
                  f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                  f"non-2xx {result.non_2xx}  CPU server {result.server_cpu_pct:.0f}% "
                  f"other {result.other_cpu_pct:.0f}%",
                  flush=True)
            return result

        bare_rps: dict[int, float] = {}
        port = _free_port()
        bare = Server("bare Starlette", [sys.executable, str(BENCH / "bare_app.py"), str(port)],
                      port, work / "bare.log", "/healthz")
        print("bare Starlette:", flush=True)
        with serving(bare):
            for conns in args.connections:
                result = measure(bare, BARE, conns)
                judge(result, BARE, None)
                bare_rps[conns] = result.rps
                results.append(result)

        port = _free_port()
        app = Server("tasklette serve", tasklette_argv(data_dir, port), port,
                     work / "tasklette.log", "/healthz")
        print(f"tasklette: {' '.join(app.argv)}", flush=True)
        with serving(app):
            found = preflight(app.url, seeded, args.tasks_per_project)
            problems += [f"preflight: {p}" for p in found]
            for p in found:
                print(f"  PREFLIGHT PROBLEM: {p}", flush=True)
            for scenario in args.scenarios:
                for conns in args.connections:
                    result = measure(app, scenario, conns)
                    judge(result, scenario, bare_rps.get(conns))
                    results.append(result)
            server_log = app.log_tail(10_000)
        for line in server_log.splitlines():
            if re.search(r"WARNING|ERROR|Traceback|database is busy", line):
                server_log_notes.append(line)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"\nbenchmark failed, servers stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep_data:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(table(results))
    print()
    print(targets_text())
    print("vs bare: req/s over bare Starlette's at the same connection count. CPU, 100% = one "
          "core of 2, during the run: srv = the server process, wrk = the load generator, "
          "other = everything else on the machine (noise: figures from runs with much "
          "other CPU are low).")
    noisy = [f"{r.label} c={r.connections} ({r.other_cpu_pct:.0f}%)" for r in results
             if r.other_cpu_pct > 25]
    if noisy:
        print("WARNING: other processes were busy during: " + ", ".join(noisy)
              + " -- those figures are low; rerun on an idle machine.")
    if server_log_notes:
        print(f"server log: {len(server_log_notes)} warnings/errors, first: "
              f"{server_log_notes[0]}")
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
                     "accept_encoding": args.accept_encoding},
        "seed": {"seconds": round(seeded.seconds, 2), "counts": counts},
        "targets": targets_text(), "problems": problems,
        "server_log_warnings": server_log_notes,
        "results": [asdict(r) for r in results],
    }, indent=2, ensure_ascii=False) + "\n")
    print(f"results: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    if errors or problems or (args.strict and missed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
