"""Concurrency battery: W writers and R readers at once on the real server, both engines.

    uv run python bench/concurrency_battery.py [--writers 8] [--readers 8] [--seconds 20]
    uv run python bench/concurrency_battery.py --engines sqlite --seconds 10

For each engine (SQLite in a temporary data directory; PostgreSQL on a fresh database
tasklette_battery_<pid> of --database, dropped at the end) it seeds a small team's
projects with bench/seed.py, serves them with `tasklette serve` (1 worker, default
settings) and runs for S seconds, all at once:

- W writers (one connection each): create tasks, move them, comment, attach and detach
  labels, create and delete labels, create and delete columns (moving their tasks), on
  shared projects, so that one writer deletes what another is using;
- R readers (one connection each): get a task, list a page of 100 tasks, load the board
  page (signed in through the real form).

Half of the task reads and of the writes on tasks go to the same few cards (the top 10
of each project's list), as when a team works on one sprint.

Then it reads the database and counts lost writes: acknowledged creates (tasks,
comments, labels, columns) that are missing and were not deleted by an acknowledged
delete. Errors are non-2xx answers other than the expected ones (409; and 404 or 422 on
a label or column that another writer had deleted, or was deleting), counted by status;
5xx separately. The read throughput is given as a ratio to a baseline of the same run:
the same R readers against bare Starlette (bench/bare_app.py, the uvicorn settings of
`tasklette serve`).

Writers and readers run in two client processes of their own (asyncio and httpx), so
that they do not share one interpreter. It is a benchmark, not a test: exit status 1
when there were errors or lost writes. JSON goes to bench/results/battery-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api_bench import (  # bench/ is on sys.path when this file is run as a script
    RESULTS,
    Server,
    _free_port,
    bare_argv,
    format_table,
    machine_info,
    serving,
    tasklette_argv,
    wait_for_quiet,
)
from seed import OWNER, PASSWORD, create_pg_database, drop_pg_database, seed

BENCH = Path(__file__).resolve().parent
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432"
EXTRA_COLUMNS = 3  # most columns a project gets beyond its seeded three
HOT_TASKS = 10  # per project: the top of its list, half of all task reads and writes
START_DELAY = 2.0  # seconds for the client processes to start before the clock runs


# --- the clients (each in a process of its own) ------------------------------------------


@dataclass
class Tally:
    """What one client process saw: answers by operation and status, and acknowledged ids."""

    statuses: Counter[str] = field(default_factory=Counter)  # "op status" -> count
    expected: Counter[str] = field(default_factory=Counter)  # 409s, and what was deleted
    errors: Counter[str] = field(default_factory=Counter)  # "op status" -> count
    samples: dict[str, str] = field(default_factory=dict)  # first body per error kind
    created: dict[str, dict[int, str]] = field(default_factory=dict)  # kind -> id -> name
    deleted: dict[str, list[int]] = field(default_factory=dict)  # kind -> acknowledged ids
    requests: int = 0

    def record(self, op: str, response: httpx.Response | httpx.TransportError,
               ok: Collection[int], maybe: Collection[int] = ()) -> bool:
        """Count one answer (or a failed connection); True when its status is one of `ok`."""
        self.requests += 1
        if isinstance(response, httpx.TransportError):
            key = f"{op} transport"
            self.statuses[key] += 1
            self.errors[key] += 1
            self.samples.setdefault(key, repr(response)[:300])
            return False
        key = f"{op} {response.status_code}"
        self.statuses[key] += 1
        if response.status_code in ok:
            return True
        if response.status_code == 409 or response.status_code in maybe:
            self.expected[key] += 1
        else:
            self.errors[key] += 1
            self.samples.setdefault(key, response.text[:300])
        return False

    def to_json(self) -> dict[str, Any]:
        return {"statuses": self.statuses, "expected": self.expected, "errors": self.errors,
                "samples": self.samples, "created": self.created, "deleted": self.deleted,
                "requests": self.requests}


async def _send(client: httpx.AsyncClient, method: str, path: str,
                **kwargs: Any) -> httpx.Response | httpx.TransportError:
    try:
        return await client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        return exc


class Shared:
    """The writers' view of what exists: live columns and labels, and what is going."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.projects = plan["projects"]  # [{"id", "columns", "labels"}]
        self.tasks: list[tuple[int, int]] = [(t, p) for t, p in plan["tasks"]]  # (id, pid)
        self.extra_columns: dict[int, list[int]] = {p["id"]: [] for p in self.projects}
        self.extra_labels: dict[int, list[int]] = {p["id"]: [] for p in self.projects}
        self.going: set[tuple[str, int]] = set()  # deleted, or being deleted

    def columns(self, project: dict[str, Any]) -> list[int]:
        return list(project["columns"]) + self.extra_columns[project["id"]]

    def labels(self, project: dict[str, Any]) -> list[int]:
        return list(project["labels"]) + self.extra_labels[project["id"]]


async def writer(n: int, plan: dict[str, Any], shared: Shared, tally: Tally,
                 deadline: float) -> None:
    """Random writes on shared projects until `deadline` (time.monotonic)."""
    rng = random.Random(f"{plan['seed']}-writer-{n}")
    created_tasks = tally.created.setdefault("tasks", {})
    created_comments = tally.created.setdefault("comments", {})
    created_labels = tally.created.setdefault("labels", {})
    created_columns = tally.created.setdefault("columns", {})
    async with httpx.AsyncClient(base_url=plan["url"], timeout=30,
                                 limits=httpx.Limits(max_connections=1),
                                 headers={"Authorization": f"Bearer {plan['token']}"}) as c:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            project = rng.choice(shared.projects)
            pid = project["id"]
            if rng.random() < 0.5:  # the few cards everyone is working on
                task_id = rng.choice(project["hot"])
            else:
                task_id = rng.choice([t for t, p in shared.tasks[-400:] if p == pid])
            action = rng.random()
            if action < 0.25:
                column = rng.choice(shared.columns(project))
                title = f"battery w{n} #{i}"
                response = await _send(c, "POST", f"/api/v1/projects/{pid}/tasks",
                                       json={"title": title, "column_id": column})
                gone = {422} if ("column", column) in shared.going else ()
                if tally.record("create task", response, {201}, gone):
                    assert isinstance(response, httpx.Response)
                    made = response.json()["id"]
                    created_tasks[made] = title
                    shared.tasks.append((made, pid))
            elif action < 0.42:
                column = rng.choice(shared.columns(project))
                response = await _send(c, "POST", f"/api/v1/tasks/{task_id}/move", json={
                    "column_id": column, "position": rng.randint(0, 20)})
                gone = {404, 422} if ("column", column) in shared.going else ()
                tally.record("move task", response, {200}, gone)
            elif action < 0.55:
                body = f"battery comment w{n} #{i}"
                response = await _send(c, "POST", f"/api/v1/tasks/{task_id}/comments",
                                       json={"body": body})
                if tally.record("comment", response, {201}):
                    assert isinstance(response, httpx.Response)
                    created_comments[response.json()["id"]] = body
            elif action < 0.77:
                label = rng.choice(shared.labels(project))
                method = "PUT" if action < 0.70 else "DELETE"
                response = await _send(c, method, f"/api/v1/tasks/{task_id}/labels/{label}")
                gone = {404} if ("label", label) in shared.going else ()
                tally.record("attach label" if method == "PUT" else "detach label", response,
                             {200}, gone)
            elif action < 0.85:
                name = f"battery w{n} #{i}"
                response = await _send(c, "POST", f"/api/v1/projects/{pid}/labels",
                                       json={"name": name, "color": "#30a46c"})
                if tally.record("create label", response, {201}):
                    assert isinstance(response, httpx.Response)
                    made = response.json()["id"]
                    created_labels[made] = name
                    shared.extra_labels[pid].append(made)
            elif action < 0.92:
                if not shared.extra_labels[pid]:
                    continue
                label = rng.choice(shared.extra_labels[pid])
                shared.going.add(("label", label))
                response = await _send(c, "DELETE", f"/api/v1/labels/{label}")
                if tally.record("delete label", response, {204}, {404}):
                    tally.deleted.setdefault("labels", []).append(label)
                    if label in shared.extra_labels[pid]:
                        shared.extra_labels[pid].remove(label)
            elif action < 0.96:
                if len(shared.extra_columns[pid]) >= EXTRA_COLUMNS:
                    continue
                name = f"battery w{n} #{i}"
                response = await _send(c, "POST", f"/api/v1/projects/{pid}/columns",
                                       json={"name": name})
                if tally.record("create column", response, {201}):
                    assert isinstance(response, httpx.Response)
                    made = response.json()["id"]
                    created_columns[made] = name
                    shared.extra_columns[pid].append(made)
            else:
                if not shared.extra_columns[pid]:
                    continue
                column = rng.choice(shared.extra_columns[pid])
                shared.going.add(("column", column))
                response = await _send(c, "DELETE", f"/api/v1/columns/{column}",
                                       params={"move_to": project["columns"][0]})
                if tally.record("delete column", response, {204}, {404}):
                    tally.deleted.setdefault("columns", []).append(column)
                    if column in shared.extra_columns[pid]:
                        shared.extra_columns[pid].remove(column)


async def reader(n: int, plan: dict[str, Any], tally: Tally, start: float,
                 deadline: float) -> None:
    """Reads until `deadline`: a task, a list page, the board (bare: GET / only)."""
    rng = random.Random(f"{plan['seed']}-reader-{n}")
    async with httpx.AsyncClient(base_url=plan["url"], timeout=30,
                                 limits=httpx.Limits(max_connections=1)) as c:
        if not plan.get("bare"):
            signed = await c.post("/signin", data={"username": OWNER, "password": PASSWORD},
                                  headers={"Sec-Fetch-Site": "same-origin"})
            if signed.status_code != 303:
                raise RuntimeError(f"sign-in failed: {signed.status_code}")
        api = {"Authorization": f"Bearer {plan['token']}"}
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        while time.monotonic() < deadline:
            if plan.get("bare"):
                tally.record("bare", await _send(c, "GET", "/"), {200})
                continue
            project = rng.choice(plan["projects"])
            action = rng.random()
            if action < 1 / 3:
                task_id = rng.choice(project["hot"]) if rng.random() < 0.5 \
                    else rng.choice(plan["tasks"])[0]
                response = await _send(c, "GET", f"/api/v1/tasks/{task_id}", headers=api)
                tally.record("get task", response, {200})
            elif action < 2 / 3:
                response = await _send(c, "GET", f"/api/v1/projects/{project['id']}/tasks",
                                       params={"limit": 100}, headers=api)
                tally.record("list tasks", response, {200})
            else:
                response = await _send(c, "GET", f"/projects/{project['id']}")
                tally.record("board page", response, {200})


async def run_clients(role: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Run the writers or the readers of `plan`; their tally, and the seconds they ran."""
    tally = Tally()
    # The plan gives the start as wall-clock time, the same in both client processes.
    start = time.monotonic() + max(0.0, plan["start_at"] - time.time())
    deadline = start + plan["seconds"]
    if role == "writers":
        shared = Shared(plan)
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        jobs = [writer(n, plan, shared, tally, deadline) for n in range(plan["count"])]
    else:
        jobs = [reader(n, plan, tally, start, deadline) for n in range(plan["count"])]
    await asyncio.gather(*jobs)
    return {**tally.to_json(), "seconds": time.monotonic() - start}


def client_main(role: str, plan_path: Path, out_path: Path) -> int:
    plan = json.loads(plan_path.read_text())
    out_path.write_text(json.dumps(asyncio.run(run_clients(role, plan))))
    return 0


# --- the run (the parent process) --------------------------------------------------------


def run_client_processes(plans: dict[str, dict[str, Any]], work: Path) -> dict[str, Any]:
    """Start one client process per role in `plans`, at once; their results by role."""
    start_at = time.time() + START_DELAY
    procs = {}
    for role, plan in plans.items():
        plan_path, out_path = work / f"plan-{role}.json", work / f"out-{role}.json"
        plan_path.write_text(json.dumps({**plan, "start_at": start_at}))
        procs[role] = (subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--client", role,
             "--plan", str(plan_path), "--out", str(out_path)]), out_path)
    results = {}
    for role, (proc, out_path) in procs.items():
        if proc.wait(timeout=plans[role]["seconds"] + 120) != 0:
            raise RuntimeError(f"the {role} process exited with {proc.returncode}")
        results[role] = json.loads(out_path.read_text())
    return results


async def _read_rows(database_url: str, data_dir: Path, query: str) -> list[tuple[Any, ...]]:
    if not database_url:
        conn = sqlite3.connect(f"file:{data_dir / 'tasklette.db'}?mode=ro", uri=True)
        try:
            return conn.execute(query).fetchall()
        finally:
            conn.close()
    pg = await asyncpg.connect(database_url)
    try:
        return [tuple(r) for r in await pg.fetch(query)]
    finally:
        await pg.close()


TABLES = {"tasks": "SELECT id, title FROM tasks", "comments": "SELECT id, body FROM comments",
          "labels": "SELECT id, name FROM labels", "columns": "SELECT id, name FROM columns"}


def lost_writes(writers: dict[str, Any], database_url: str,
                data_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Acknowledged creates missing (not deleted by an acknowledged delete), by kind; and
    acknowledged deletes whose row is still there."""
    lost, undeleted = {}, {}
    for kind, query in TABLES.items():
        present = dict(asyncio.run(_read_rows(database_url, data_dir, query)))
        gone = set(writers["deleted"].get(kind, []))
        created = {int(i): name for i, name in writers["created"].get(kind, {}).items()}
        lost[kind] = sum(1 for i, name in created.items()
                         if i not in gone and present.get(i) != name)
        undeleted[kind] = sum(1 for i in gone if i in present)
    return lost, undeleted


def column_positions_broken(database_url: str, data_dir: Path) -> int:
    """Projects whose column positions are not 0..n-1 (what every write keeps)."""
    rows = asyncio.run(_read_rows(database_url, data_dir, (
        "SELECT COUNT(*) FROM (SELECT project_id, COUNT(*) AS n, "
        "COUNT(DISTINCT position) AS d, MIN(position) AS lo, MAX(position) AS hi "
        "FROM columns GROUP BY project_id) AS p WHERE d <> n OR lo <> 0 OR hi <> n - 1")))
    return int(rows[0][0])


def make_plan(url: str, token: str, seeded: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What the clients work on: the seeded projects, their columns, labels and tasks."""
    projects = []
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for project in seeded.projects:
            labels = client.get(f"/api/v1/projects/{project['id']}/labels").json()
            first = client.get(f"/api/v1/projects/{project['id']}/tasks",
                               params={"limit": HOT_TASKS}).json()["items"]
            projects.append({"id": project["id"], "columns": project["columns"],
                             "labels": [label["id"] for label in labels],
                             "hot": [task["id"] for task in first]})
    by_index = [p["id"] for p in seeded.projects]
    tasks = [(t, by_index[i - 1]) for t, i in zip(seeded.task_ids, seeded.task_project,
                                                  strict=True)]
    return {"url": url, "token": token, "projects": projects, "tasks": tasks,
            "seconds": args.seconds, "seed": args.seed}


def summarise(engine: str, args: argparse.Namespace, clients: dict[str, Any],
              lost: dict[str, int], undeleted: dict[str, int], positions: int,
              bare_rps: float, server_cpu: float) -> dict[str, Any]:
    writers, readers = clients["writers"], clients["readers"]
    errors: Counter[str] = Counter()
    for side in (writers, readers):
        for key, count in side["errors"].items():
            errors[key.rsplit(" ", 1)[1]] += count
    five_xx = sum(n for status, n in errors.items() if status.startswith("5"))
    reads = sum(readers["statuses"].values())
    read_rps = reads / readers["seconds"]
    return {
        "engine": engine, "writers": args.writers, "readers": args.readers,
        "seconds": round(readers["seconds"], 1),
        "requests": writers["requests"] + readers["requests"],
        "writes": writers["requests"], "reads": reads,
        "errors": sum(errors.values()), "errors_by_status": dict(errors), "5xx": five_xx,
        "expected_non_2xx": sum(writers["expected"].values()),
        "lost_writes": sum(lost.values()), "lost_by_kind": lost,
        "acknowledged_deletes_undone": undeleted,
        "projects_with_broken_column_positions": positions,
        "read_rps": round(read_rps, 1), "read_vs_bare": round(read_rps / bare_rps, 4),
        "server_cpu_pct": round(server_cpu, 1),
        "errors_by_operation": {**writers["errors"], **readers["errors"]},
        "error_samples": {**writers["samples"], **readers["samples"]},
        "statuses": {**writers["statuses"], **readers["statuses"]},
        "created": {k: len(v) for k, v in writers["created"].items()},
    }


def battery(engine: str, args: argparse.Namespace, work: Path, bare_rps: float,
            ) -> dict[str, Any]:
    """Seed, serve and run the battery on one engine; its summary."""
    data_dir = work / engine
    db_name = f"tasklette_battery_{os.getpid()}" if engine == "postgresql" else ""
    database_url = create_pg_database(args.database, db_name) if db_name else ""
    try:
        seeded = asyncio.run(seed(data_dir, args.projects, args.tasks_per_project,
                                  random.Random(args.seed), 200, database_url))
        print(f"{engine}: seeded {seeded.counts['tasks']:,} tasks in {seeded.seconds:.1f} s",
              flush=True)
        port = _free_port()
        app = Server("tasklette serve", tasklette_argv(data_dir, port, database_url), port,
                     work / f"{engine}.log", "/healthz")
        with serving(app):
            plan = make_plan(app.url, seeded.token, seeded, args)
            if args.quiet_wait > 0:
                wait_for_quiet(app, args.quiet_wait)
            cpu0, wall0 = app.cpu_seconds(), time.monotonic()
            print(f"{engine}: {args.writers} writers and {args.readers} readers for "
                  f"{args.seconds:g} s ...", flush=True)
            clients = run_client_processes({
                "writers": {**plan, "count": args.writers},
                "readers": {**plan, "count": args.readers}}, work)
            server_cpu = 100 * (app.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        lost, undeleted = lost_writes(clients["writers"], database_url, data_dir)
        positions = column_positions_broken(database_url, data_dir)
    finally:
        if db_name and not args.keep_data:
            drop_pg_database(args.database, db_name)
    summary = summarise(engine, args, clients, lost, undeleted, positions, bare_rps,
                        server_cpu)
    print(f"{engine}: {summary['requests']:,} requests, {summary['errors']} errors "
          f"{summary['errors_by_status'] or ''}, {summary['expected_non_2xx']} expected "
          f"409/404/422, lost writes {summary['lost_writes']}",
          flush=True)
    return summary


def measure_bare(args: argparse.Namespace, work: Path) -> float:
    """Reads/s of R readers against bare Starlette: the baseline."""
    port = _free_port()
    bare = Server("bare Starlette", bare_argv(port), port, work / "bare.log", "/healthz")
    with serving(bare):
        if args.quiet_wait > 0:
            wait_for_quiet(bare, args.quiet_wait)
        seconds = min(args.seconds, args.baseline_seconds)
        result = run_client_processes({"readers": {
            "url": bare.url, "token": "", "projects": [], "tasks": [], "bare": True,
            "seconds": seconds, "seed": args.seed, "count": args.readers}}, work)["readers"]
    if result["errors"]:
        raise RuntimeError(f"bare Starlette answered errors: {result['errors']}")
    rps = float(sum(result["statuses"].values()) / result["seconds"])
    print(f"baseline: bare Starlette, {args.readers} readers: {rps:,.0f} req/s", flush=True)
    return rps


def table(summaries: list[dict[str, Any]]) -> str:
    header = ("database", "writers", "readers", "seconds", "requests", "errors", "5xx",
              "lost writes", "reads/s", "reads vs bare")
    rows: list[tuple[str, ...]] = [header]
    for s in summaries:
        by_status = ", ".join(f"{k}: {v}" for k, v in sorted(s["errors_by_status"].items()))
        rows.append((
            {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[s["engine"]], str(s["writers"]),
            str(s["readers"]), f"{s['seconds']:g}", f"{s['requests']:,}",
            f"{s['errors']}" + (f" ({by_status})" if by_status else ""), str(s["5xx"]),
            str(s["lost_writes"]), f"{s['read_rps']:,.0f}", f"{s['read_vs_bare']:.3f}x"))
    return format_table(rows, right={1, 2, 3, 4, 6, 7, 8, 9})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8, help="writing clients (default 8)")
    parser.add_argument("--readers", type=int, default=8, help="reading clients (default 8)")
    parser.add_argument("--seconds", type=float, default=20,
                        help="seconds of load per engine (default 20)")
    parser.add_argument("--baseline-seconds", type=float, default=10,
                        help="seconds of the bare Starlette baseline, at most --seconds "
                             "(default 10)")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--database", default=DEFAULT_DATABASE, metavar="URL",
                        help=f"PostgreSQL server for the postgresql run (default "
                             f"{DEFAULT_DATABASE})")
    parser.add_argument("--projects", type=int, default=2)
    parser.add_argument("--tasks-per-project", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1, help="random seed of data and clients")
    parser.add_argument("--quiet-wait", type=float, default=10,
                        help="wait up to this many seconds for other processes to go quiet "
                             "before each run (default 10; 0: do not wait)")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the data directories, logs and PostgreSQL database")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default bench/results/battery-<time>.json)")
    parser.add_argument("--client", choices=("writers", "readers"), help=argparse.SUPPRESS)
    parser.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not args.engines or set(args.engines) - {"sqlite", "postgresql"}:
        parser.error("--engines takes sqlite, postgresql or both")
    if args.writers < 1 or args.readers < 1 or args.seconds <= 0:
        parser.error("--writers and --readers must be at least 1, --seconds above 0")
    return args


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        return client_main(args.client, args.plan, args.out)
    signal.signal(signal.SIGTERM, _on_sigterm)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="tasklette-battery-"))
    summaries = []
    try:
        bare_rps = measure_bare(args, work)
        for engine in args.engines:
            summaries.append(battery(engine, args, work, bare_rps))
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep_data:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(table(summaries))
    print("errors: non-2xx answers other than 409 and 404/422 on a label or column another "
          "writer deleted, by status; lost writes: acknowledged creates missing at the end; "
          "reads vs bare: reads/s over the same readers' req/s against bare Starlette.")
    for s in summaries:
        for key, count in sorted(s["errors_by_operation"].items()):
            print(f"  {s['engine']}: {key}: {count}  e.g. {s['error_samples'].get(key, '')!r:.160}")
        if any(s["acknowledged_deletes_undone"].values()):
            print(f"  {s['engine']}: acknowledged deletes undone: "
                  f"{s['acknowledged_deletes_undone']}")
        if s["projects_with_broken_column_positions"]:
            print(f"  {s['engine']}: projects whose column positions are not 0..n-1: "
                  f"{s['projects_with_broken_column_positions']}")
    output = args.output or RESULTS / f"battery-{stamp}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "benchmark": "concurrency battery", "timestamp": stamp, "machine": machine_info(),
        "settings": {k: v for k, v in vars(args).items()
                     if k not in ("client", "plan", "out", "output")},
        "bare_read_rps": round(bare_rps, 1), "results": summaries,
    }, indent=2, default=str) + "\n")
    print(f"results: {output}")
    return 1 if any(_failed(s) for s in summaries) else 0


def _failed(summary: dict[str, Any]) -> bool:
    return bool(summary["errors"] or summary["lost_writes"]
                or summary["projects_with_broken_column_positions"]
                or any(summary["acknowledged_deletes_undone"].values()))


if __name__ == "__main__":
    sys.exit(main())
