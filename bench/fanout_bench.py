"""Fan-out benchmark: N live event streams on one project while a writer makes changes.

    uv run python bench/fanout_bench.py [--subscribers 100,1000,5000] [--seconds 15]

For each N, on a fresh server each time:

1. bare baseline: bench/bare_sse_app.py (bare Starlette's StreamingResponse, one
   asyncio queue per subscriber, frames of the size of Tasklette's), served with the
   uvicorn settings of `tasklette serve`;
2. Tasklette: `tasklette serve --data-dir DIR --port P` (1 worker, SQLite, default
   settings) on a data directory seeded in-process with the bench team, an API token
   and one project.

Each run opens N `GET .../events` streams from lightweight asyncio clients (raw
sockets on uvloop, in 1 client process up to 1,000 streams, else 2), waits until every
stream has its first frame, then a writer makes `--rate` changes per second for
`--seconds`, open loop (Tasklette: `POST /api/v1/projects/{id}/tasks` over the JSON
API; bare: `POST /publish`). Each stream notes the id of every frame it receives and
when (it scans for `id:` lines; no JSON parsing); the latency of a delivery is the
receive time minus the event's `created_at` (set inside the committing transaction,
read back from the database afterwards; the bare app returns it from /publish; one
machine, one clock). After the writing, the clients wait until every stream has the
last event (or nothing arrives for --drain-quiet seconds).

It prints per N: events written, delivered/expected over all streams (must be 100 %),
latency p50/p99/max, the server's RSS (idle, after connecting, at the end, peak), CPU
use of the server, the clients and the rest of the machine, how late the clients' own
event loops ran (the client must not be the bottleneck), and Tasklette's figures as a
ratio to the bare baseline of the same N; JSON in bench/results/fanout-<time>.json.

It is a benchmark, not a test: it exits 0 when a target is missed (1 when a delivery
was lost, a write failed or a run could not be made; see --strict).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import http.client
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import platform
import queue
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from api_bench import (  # bench/ is on sys.path when this file is run as a script
    ROOT,
    Server,
    _die_with_parent,
    _free_port,
    machine_ticks,
    serving,
    tasklette_argv,
    wait_for_quiet,
)
from seed import create_team

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TARGET_P99_MS = 100.0  # at TARGET_P99_SUBSCRIBERS
TARGET_P99_SUBSCRIBERS = 1000
TARGET_RSS_MB = 300.0  # at TARGET_RSS_SUBSCRIBERS
TARGET_RSS_SUBSCRIBERS = 5000
TITLE = "Fan-out task {:06d}"  # fixed width: every frame has the same size


# --- the client (runs in its own processes) --------------------------------------------

ID_LINE = re.compile(rb"^id: (\d+)\n", re.MULTILINE)


class Stream(asyncio.Protocol):
    """One SSE connection: notes (event id, receive time) of each frame; parses no JSON.

    Frames are found by scanning each chunk for `id: N` lines (a line cut between
    two reads is kept and scanned with the next one). The receive time is the wall
    clock when the chunk arrived, as `created_at` is the server's wall clock.
    """

    def __init__(self, request: bytes, ready: asyncio.Future[None]) -> None:
        self.request = request
        self.ready = ready
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport
        self.status = 0
        self.head = b""
        self.tail = b""
        self.ids: array[int] = array("q")
        self.times: array[float] = array("d")
        self.last_id = 0
        self.bytes = 0
        self.error = ""
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.bytes += len(data)
        if not self.status:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self.status = int(self.head.split(b"\r\n", 1)[0].split()[1])
            except (IndexError, ValueError):
                self.status = -1
            data, self.head = self.head[end + 4:], b""
            if self.status != 200:
                self.fail(f"HTTP {self.status}")
                return
        buf = self.tail + data
        found = ID_LINE.findall(buf)
        if found:
            ids, times = self.ids, self.times
            for raw in found:
                ids.append(int(raw))
                times.append(now)
            self.last_id = ids[-1]
        if not self.ready.done() and b"\n\n" in buf:
            self.ready.set_result(None)
        self.tail = buf[buf.rfind(b"\n"):]  # from the last newline: "" or a partial line

    def fail(self, error: str) -> None:
        if not self.error:
            self.error = error
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(error))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.fail(f"closed by the server: {exc!r}" if exc else "closed by the server")


def _raise_nofile(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def client_process(conn: multiprocessing.connection.Connection, host: str, port: int,
                   request: bytes, count: int, parallel: int) -> None:
    """Entry point of a client process: open `count` streams, then follow the parent."""
    _die_with_parent()
    _raise_nofile(count + 100)
    try:
        import uvloop  # the client's own cost is not under test: the faster loop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    runner(_client(conn, host, port, request, count, parallel))


async def _client(conn: multiprocessing.connection.Connection, host: str, port: int,
                  request: bytes, count: int, parallel: int) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    os.set_blocking(conn.fileno(), True)  # uvloop made it non-blocking: sends must not fail
    gate = asyncio.Semaphore(parallel)
    streams: list[Stream] = []
    started = time.perf_counter()
    opened = 0

    async def open_one() -> None:
        nonlocal opened
        async with gate:
            stream = Stream(request, loop.create_future())
            streams.append(stream)
            try:
                await loop.create_connection(lambda: stream, host, port)
                await asyncio.wait_for(stream.ready, 120)
                opened += 1
            except (OSError, TimeoutError) as exc:
                stream.fail(f"connect: {exc!r}")

    async def report_progress() -> None:
        while True:
            await asyncio.sleep(1)
            conn.send(("progress", opened, sum(1 for s in streams if s.error)))

    progress = asyncio.create_task(report_progress())
    await asyncio.gather(*(open_one() for _ in range(count)))
    progress.cancel()
    conn.send(("ready", opened, [s.error for s in streams if s.error][:20],
               time.perf_counter() - started))

    lags: list[float] = []
    monitor: asyncio.Task[None] | None = None

    async def watch_lag() -> None:  # how late this loop runs a 10 ms timer: client overload
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    while True:
        command = await commands.get()
        if command[0] == "measure":
            monitor = asyncio.create_task(watch_lag())
        elif command[0] == "stop":
            _, last_id, quiet, longest = command
            break
    waiting_since = time.perf_counter()
    received, progress_at = -1, waiting_since
    while True:
        pending = [s for s in streams if not s.error and s.last_id < last_id]
        now = time.perf_counter()
        total = sum(len(s.ids) for s in streams)
        if total != received:
            received, progress_at = total, now
        if not pending or now - progress_at > quiet or now - waiting_since > longest:
            break
        await asyncio.sleep(0.05)
    loop.remove_reader(conn.fileno())
    if monitor is not None:
        monitor.cancel()
    for stream in streams:
        stream.closing = True
        if stream.transport is not None:
            stream.transport.close()
    conn.send(("result", {
        "ids": [s.ids.tobytes() for s in streams],
        "times": [s.times.tobytes() for s in streams],
        "errors": [s.error for s in streams],
        "bytes": sum(s.bytes for s in streams),
        "lags_ms": [lag * 1000 for lag in lags],
        "waited_s": time.perf_counter() - waiting_since,
    }))


# --- the server side -----------------------------------------------------------------


async def seed(data_dir: Path) -> dict[str, Any]:
    """The bench team (shared with api_bench), a token, a project, and one probe task.

    The probe task's event, encoded as the broker encodes it, gives the size of the
    frames the writer's changes make: the bare baseline pads its frames to it.
    """
    from tasklette.live.broker import encode_event
    from tasklette.services import projects, tasks, tokens
    from tasklette.services.tasks import TaskFields
    from tasklette.settings import load_settings
    from tasklette.storage import events
    from tasklette.storage.open import open_database

    settings = load_settings(environ={}, data_dir=data_dir)
    db = open_database(settings)
    try:
        owner = (await create_team(db))[0]
        _, secret = await tokens.create(db, owner, "fanout-bench")
        project = await projects.create(db, owner, "Fan-out", "Live updates to many viewers")
        pid = int(project["id"])
        await tasks.create(db, owner, pid, TaskFields(title=TITLE.format(0)))
        async with db.reading() as conn:
            probe = (await events.after(conn, pid, 0, 100))[-1]
    finally:
        await db.close()
    return {"token": secret, "project_id": pid, "frame_bytes": len(encode_event(probe)),
            "database": settings.database_path, "data_dir": data_dir}


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    values = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_time(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=dt.UTC).timestamp()


class Writer:
    """Makes changes at a steady rate, open loop: change i is sent at start + i / rate
    whatever the answers to the earlier ones take (up to `concurrency` in flight, each
    on its own keep-alive connection), so a slow server gets the offered rate anyway.
    """

    def __init__(self, port: int, path: str, headers: dict[str, str],
                 concurrency: int) -> None:
        self.port, self.path, self.headers = port, path, headers
        self.concurrency = concurrency
        self.times_ms: list[float] = []  # request to answer, per change
        self.late_ms: list[float] = []  # how late each change was sent (all workers busy)
        self.answers: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.sent_s = 0.0  # from the first change sent to the last
        self.connections = 0  # workers the writer needed
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a change to send

    def _work(self, jobs: queue.Queue[tuple[int, float] | None],
              done: list[tuple[int, float, float, dict[str, Any]]]) -> None:
        conn: http.client.HTTPConnection | None = None
        last_used = 0.0
        try:
            while True:
                with self._lock:
                    self._idle += 1
                job = jobs.get()
                with self._lock:
                    self._idle -= 1
                if job is None:
                    break
                index, scheduled = job
                body = json.dumps({"title": TITLE.format(index)})
                sent = time.perf_counter()
                for attempt in (1, 2):
                    # uvicorn closes a connection after 5 s idle: do not reuse an old one.
                    if conn is not None and time.perf_counter() - last_used > 2:
                        conn.close()
                        conn = None
                    reused = conn is not None
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                    try:
                        conn.request("POST", self.path, body=body, headers=self.headers)
                        response = conn.getresponse()
                        payload = response.read()
                        break
                    except (OSError, http.client.HTTPException) as exc:
                        conn.close()
                        conn = None
                        if not (reused and attempt == 1 and isinstance(
                                exc, ConnectionError | http.client.RemoteDisconnected)):
                            self.errors.append(f"POST {self.path}: {exc!r}")
                            break
                        # The server closed the kept-alive connection: once more, anew.
                if conn is None:
                    continue
                last_used = answered = time.perf_counter()
                if response.status != 201:
                    self.errors.append(f"POST {self.path} answered {response.status}: "
                                       f"{payload[:300]!r}")
                    continue
                done.append((index, sent - scheduled, answered - sent, json.loads(payload)))
        finally:
            if conn is not None:
                conn.close()

    def run(self, rate: float, seconds: float) -> float:
        """Write for `seconds`; return the seconds until the last change was answered.

        A worker (thread and connection) is added only when none is free, so a server
        that keeps up sees one or two connections, each kept alive.
        """
        count = round(rate * seconds)
        jobs: queue.Queue[tuple[int, float] | None] = queue.Queue()
        done: list[tuple[int, float, float, dict[str, Any]]] = []
        workers: list[threading.Thread] = []
        started = time.perf_counter()
        for i in range(count):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            with self._lock:
                free = self._idle - jobs.qsize()
            if free <= 0 and len(workers) < self.concurrency:
                worker = threading.Thread(target=self._work, args=(jobs, done), daemon=True,
                                          name=f"fanout-writer-{len(workers)}")
                worker.start()
                workers.append(worker)
            jobs.put((i + 1, scheduled))
        self.sent_s = time.perf_counter() - started
        self.connections = len(workers)
        for _ in workers:
            jobs.put(None)
        for worker in workers:
            worker.join()
        done.sort(key=lambda item: item[0])
        self.late_ms = [late * 1000 for _, late, _, _ in done]
        self.times_ms = [took * 1000 for _, _, took, _ in done]
        self.answers = [answer for _, _, _, answer in done]
        return time.perf_counter() - started


# --- one run ---------------------------------------------------------------------------


@dataclass
class Run:
    server: str  # "bare" or "tasklette"
    subscribers: int
    clients: int
    connected: int = 0
    connect_s: float = 0.0
    events: int = 0
    write_rate: float = 0.0  # changes answered per second of writing
    write_late_max_ms: float = 0.0  # the latest a change was sent (all writers busy)
    write_connections: int = 0  # changes that were in flight at once, at most
    write_errors: list[str] = field(default_factory=list)
    expected: int = 0  # deliveries: events x streams
    delivered: int = 0  # distinct expected events received, over all streams
    duplicates: int = 0
    unexpected: int = 0  # ids received that were not written in the window
    streams_complete: int = 0  # streams that got every event
    stream_errors: list[str] = field(default_factory=list)
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    first_p50_ms: float = 0.0  # per event, its first delivery: commit + publish, no fan-out
    last_p50_ms: float = 0.0  # per event, its last delivery
    drain_s: float = 0.0  # from the end of writing until the clients stopped waiting
    write_p50_ms: float = 0.0
    write_p99_ms: float = 0.0
    frame_bytes: float = 0.0
    rss_idle_mb: float = 0.0
    rss_connected_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    kib_per_stream: float = 0.0
    server_cpu_pct: float = 0.0  # of one core, while writing
    client_cpu_pct: list[float] = field(default_factory=list)  # each client process
    other_cpu_pct: float = 0.0
    client_lag_p99_ms: float = 0.0  # the client loops' timer lateness while writing
    client_lag_max_ms: float = 0.0
    loadavg_before: list[float] = field(default_factory=list)
    per_event: list[dict[str, Any]] = field(default_factory=list)
    vs_bare: dict[str, float] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)

    @property
    def delivered_pct(self) -> float:
        return 100.0 * self.delivered / self.expected if self.expected else 0.0


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest rank of an already sorted list."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def start_clients(count: int, processes: int, port: int, request: bytes, parallel: int
                  ) -> list[tuple[Any, multiprocessing.connection.Connection]]:
    context = multiprocessing.get_context("spawn")
    clients = []
    for i in range(processes):
        share = count // processes + (1 if i < count % processes else 0)
        parent_end, child_end = context.Pipe()
        proc = context.Process(target=client_process, daemon=True, name=f"fanout-client-{i}",
                               args=(child_end, "127.0.0.1", port, request, share, parallel))
        proc.start()
        child_end.close()
        clients.append((proc, parent_end))
    return clients


def wait_ready(clients: list[tuple[Any, multiprocessing.connection.Connection]], count: int,
               timeout: float) -> tuple[int, list[str], float]:
    deadline = time.monotonic() + timeout
    opened: dict[int, int] = {}
    failed: dict[int, int] = {}
    done: dict[int, tuple[int, list[str], float]] = {}
    last_print = 0.0
    while len(done) < len(clients):
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sum(opened.values())} of {count} streams opened in "
                               f"{timeout:.0f} s")
        for i, (proc, conn) in enumerate(clients):
            if i in done:
                continue
            if not proc.is_alive() and not conn.poll():
                raise RuntimeError(f"client process {i} exited with {proc.exitcode}")
            while conn.poll():
                message = conn.recv()
                if message[0] == "progress":
                    opened[i], failed[i] = message[1], message[2]
                elif message[0] == "ready":
                    done[i] = message[1:]
                    opened[i] = message[1]
        if time.monotonic() - last_print > 5 and len(done) < len(clients):
            print(f"    {sum(opened.values()):,} of {count:,} streams open "
                  f"({sum(failed.values())} failed)", flush=True)
            last_print = time.monotonic()
        time.sleep(0.05)
    errors = [e for d in done.values() for e in d[1]]
    return sum(d[0] for d in done.values()), errors, max(d[2] for d in done.values())


def run_one(kind: str, n: int, args: argparse.Namespace, work: Path, seeded: dict[str, Any]
            ) -> Run:
    port = _free_port()
    run = Run(server=kind, subscribers=n, clients=args.clients or (1 if n <= 1000 else 2))
    if kind == "bare":
        server = Server("bare Starlette StreamingResponse",
                        [sys.executable, str(BENCH / "bare_sse_app.py"), str(port)], port,
                        work / f"bare-{n}.log", "/healthz")
        stream_path = "/events"
        write_path = f"/publish?bytes={seeded['frame_bytes']}"
        auth: dict[str, str] = {}
    else:
        server = Server("tasklette serve", tasklette_argv(seeded["data_dir"], port), port,
                        work / f"tasklette-{n}.log", "/healthz")
        stream_path = f"/api/v1/projects/{seeded['project_id']}/events"
        write_path = f"/api/v1/projects/{seeded['project_id']}/tasks"
        auth = {"Authorization": f"Bearer {seeded['token']}"}
    request = (f"GET {stream_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in auth.items())
               + "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode()

    with serving(server):
        assert server.proc is not None
        pid = server.proc.pid
        if args.quiet_wait > 0:
            wait_for_quiet(server, args.quiet_wait)
        run.loadavg_before = list(os.getloadavg())
        time.sleep(0.5)
        run.rss_idle_mb = memory_kib(pid).get("VmRSS", 0) / 1024
        clients = start_clients(n, run.clients, port, request, args.connect_parallel)
        try:
            run.connected, errors, run.connect_s = wait_ready(clients, n, args.connect_timeout)
            run.stream_errors += errors
            print(f"    {run.connected:,} streams open in {run.connect_s:.1f} s"
                  + (f", {n - run.connected} failed: {errors[:3]}" if errors else ""),
                  flush=True)
            time.sleep(1.0)  # let the server settle (buffers, the streams' first waits)
            run.rss_connected_mb = memory_kib(pid).get("VmRSS", 0) / 1024

            writer = Writer(port, write_path, {**auth, "Content-Type": "application/json"},
                            args.writers)
            start_id = 0
            if kind == "tasklette":
                start_id = max_event_id(seeded["database"], seeded["project_id"])
            for _, conn in clients:
                conn.send(("measure",))
            tick = os.sysconf("SC_CLK_TCK")
            client_pids = [proc.pid for proc, _ in clients]
            cpu0 = ([cpu_seconds(pid)] + [cpu_seconds(p) for p in client_pids]
                    + [own_cpu_seconds()])
            busy0, _ = machine_ticks()
            wall = writer.run(args.rate, args.seconds)
            busy1, _ = machine_ticks()
            cpu1 = ([cpu_seconds(pid)] + [cpu_seconds(p) for p in client_pids]
                    + [own_cpu_seconds()])
            used = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
            run.server_cpu_pct = 100 * used[0] / wall
            run.client_cpu_pct = [100 * u / wall for u in used[1:-1]]
            run.other_cpu_pct = max(0.0, 100 * ((busy1 - busy0) / tick - sum(used)) / wall)
            run.write_rate = len(writer.times_ms) / wall
            run.write_late_max_ms = max(writer.late_ms, default=0.0)
            run.write_connections = writer.connections
            run.write_errors = writer.errors[:20]
            times = sorted(writer.times_ms)
            run.write_p50_ms, run.write_p99_ms = percentile(times, 50), percentile(times, 99)

            if kind == "tasklette":
                written = events_after(seeded["database"], seeded["project_id"], start_id)
            else:
                written = [(a["id"], a["created_at"]) for a in writer.answers]
            last_id = max((event_id for event_id, _ in written), default=0)
            end_of_writing = time.perf_counter()
            for _, conn in clients:
                conn.send(("stop", last_id, args.drain_quiet, args.drain_max))
            results = [conn.recv()[1] for _, conn in clients]
            run.drain_s = time.perf_counter() - end_of_writing
            memory = memory_kib(pid)
            run.rss_end_mb = memory.get("VmRSS", 0) / 1024
            run.rss_peak_mb = memory.get("VmHWM", 0) / 1024
        finally:
            for proc, conn in clients:
                conn.close()
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.terminate()
                    proc.join(timeout=5)
        log = server.log_tail(200)
    for line in log.splitlines():
        if re.search(r"WARNING|ERROR|Traceback", line):
            run.stream_errors.append(f"server log: {line.strip()}")

    summarise(run, written, results)
    if run.connected:
        run.kib_per_stream = (run.rss_connected_mb - run.rss_idle_mb) * 1024 / run.connected
    return run


def max_event_id(database: Path, project_id: int) -> int:
    conn = sqlite3.connect(database, timeout=30)
    try:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM events WHERE project_id = ?",
                                (project_id,)).fetchone()[0])
    finally:
        conn.close()


def events_after(database: Path, project_id: int, after: int) -> list[tuple[int, str]]:
    """The events committed in the window: the expected deliveries, with created_at."""
    conn = sqlite3.connect(database, timeout=30)
    try:
        return [(int(i), str(c)) for i, c in conn.execute(
            "SELECT id, created_at FROM events WHERE project_id = ? AND id > ? ORDER BY id",
            (project_id, after))]
    finally:
        conn.close()


def summarise(run: Run, written: list[tuple[int, str]], results: list[dict[str, Any]]) -> None:
    created = {event_id: parse_time(at) for event_id, at in written}
    run.events = len(created)
    latencies: list[float] = []
    per_event: dict[int, list[float]] = {event_id: [] for event_id in created}
    streams = 0
    for result in results:
        run.stream_errors += [e for e in result["errors"] if e][:20]
        for raw_ids, raw_times in zip(result["ids"], result["times"], strict=True):
            streams += 1
            ids, times = array("q"), array("d")
            ids.frombytes(raw_ids)
            times.frombytes(raw_times)
            seen: set[int] = set()
            for event_id, at in zip(ids, times, strict=True):
                if event_id not in created:
                    # Tasklette's probe and earlier events are not replayed (no `after`),
                    # so any id outside the window is a bug.
                    run.unexpected += 1
                    continue
                if event_id in seen:
                    run.duplicates += 1
                    continue
                seen.add(event_id)
                latency = (at - created[event_id]) * 1000
                latencies.append(latency)
                per_event[event_id].append(latency)
            if len(seen) == len(created):
                run.streams_complete += 1
        if result["lags_ms"]:
            run.client_lag_p99_ms = max(run.client_lag_p99_ms,
                                        percentile(sorted(result["lags_ms"]), 99))
            run.client_lag_max_ms = max(run.client_lag_max_ms, max(result["lags_ms"]))
        run.frame_bytes += result["bytes"]
    run.expected = len(created) * run.subscribers
    run.delivered = len(latencies)
    run.frame_bytes = run.frame_bytes / run.delivered if run.delivered else 0.0
    latencies.sort()
    run.p50_ms, run.p90_ms = percentile(latencies, 50), percentile(latencies, 90)
    run.p99_ms, run.max_ms = percentile(latencies, 99), (latencies[-1] if latencies else 0)
    firsts, lasts = [], []
    for event_id, values in per_event.items():
        values.sort()
        row = {"id": event_id, "receivers": len(values)}
        if values:
            firsts.append(values[0])
            lasts.append(values[-1])
            row.update(first_ms=round(values[0], 3), p50_ms=round(percentile(values, 50), 3),
                       last_ms=round(values[-1], 3))
        run.per_event.append(row)
    run.first_p50_ms = percentile(sorted(firsts), 50)
    run.last_p50_ms = percentile(sorted(lasts), 50)


def judge(run: Run, bare: Run | None) -> None:
    if bare is not None:
        def ratio(ours: float, theirs: float) -> float:
            return ours / theirs if theirs else float("nan")
        run.vs_bare = {"p50": ratio(run.p50_ms, bare.p50_ms),
                       "p99": ratio(run.p99_ms, bare.p99_ms),
                       "rss_end": ratio(run.rss_end_mb, bare.rss_end_mb),
                       "rss_peak": ratio(run.rss_peak_mb, bare.rss_peak_mb),
                       "kib_per_stream": ratio(run.kib_per_stream, bare.kib_per_stream)}
    if run.delivered != run.expected or run.connected != run.subscribers:
        run.verdicts.append(f"LOST {run.expected - run.delivered} deliveries")
    if run.duplicates or run.unexpected:
        run.verdicts.append(f"DUPLICATES {run.duplicates} UNEXPECTED {run.unexpected}")
    if run.write_errors:
        run.verdicts.append(f"WRITE ERRORS {len(run.write_errors)}")
    if run.server != "tasklette":
        return
    if run.subscribers == TARGET_P99_SUBSCRIBERS:
        ok = run.p99_ms < TARGET_P99_MS
        run.verdicts.append(f"p99<{TARGET_P99_MS:g}ms {'ok' if ok else 'MISS'}")
    if run.subscribers == TARGET_RSS_SUBSCRIBERS:
        ok = run.rss_peak_mb < TARGET_RSS_MB
        run.verdicts.append(f"RSS<{TARGET_RSS_MB:g}MB {'ok' if ok else 'MISS'}")


# --- report ----------------------------------------------------------------------------


def _grid(head: tuple[str, ...], rows: list[tuple[str, ...]], left: set[int]) -> str:
    rows = [head, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        cells = [c.ljust(w) if i in left else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ratio(run: Run, key: str) -> str:
    return f"{run.vs_bare[key]:.2f}x" if key in run.vs_bare else "-"


def table(runs: list[Run]) -> str:
    """Two tables: delivery and latency; then memory and CPU."""
    latency = _grid(
        ("server", "subs", "events", "writes/s", "delivered", "p50 ms", "p99 ms", "max ms",
         "1st p50", "p50 vs bare", "p99 vs bare", "targets"),
        [(r.server, f"{r.subscribers:,}", str(r.events), f"{r.write_rate:.1f}",
          f"{r.delivered_pct:.2f}%" if r.delivered == r.expected else
          f"{r.delivered_pct:.2f}% ({r.delivered:,}/{r.expected:,})",
          f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}", f"{r.max_ms:.1f}", f"{r.first_p50_ms:.1f}",
          _ratio(r, "p50"), _ratio(r, "p99"), ", ".join(r.verdicts) or "-") for r in runs],
        {0, 11})
    memory = _grid(
        ("server", "subs", "RSS idle", "RSS conn", "RSS end", "RSS peak", "KiB/sub",
         "RSS vs bare", "srv CPU", "client CPU", "other CPU", "client lag p99", "open s"),
        [(r.server, f"{r.subscribers:,}", f"{r.rss_idle_mb:.0f} MB",
          f"{r.rss_connected_mb:.0f} MB", f"{r.rss_end_mb:.0f} MB", f"{r.rss_peak_mb:.0f} MB",
          f"{r.kib_per_stream:.1f}", _ratio(r, "rss_end"), f"{r.server_cpu_pct:.0f}%",
          "+".join(f"{c:.0f}%" for c in r.client_cpu_pct), f"{r.other_cpu_pct:.0f}%",
          f"{r.client_lag_p99_ms:.1f} ms", f"{r.connect_s:.1f}") for r in runs],
        {0})
    return latency + "\n\n" + memory


NOTES = """\
writes/s: changes answered per second of writing (the writer offers --rate, open loop:
lower means the server could not keep up). delivered: distinct events received over all
streams / (events written x streams). p50/p99/max: receive time - the event's created_at,
over every (stream, event). 1st p50: per event, the first stream's receive time (commit
and publish, little fan-out), median over events. RSS: the server's VmRSS before any
stream (idle), 1 s after all N are open (conn), after the last delivery (end); peak =
VmHWM. KiB/sub = (conn - idle) / N. vs bare: Tasklette / bare at the same N (lower is
better). CPU, 100% = one core, while writing: srv = the server, client = each client
process, other = the rest of the machine (this benchmark's writer excluded). client lag
p99: how late the client loops ran a 10 ms timer while writing (high: the client is a
bottleneck). open s: seconds to open all N streams.
"""


def targets_text() -> str:
    return (f"targets: p99 < {TARGET_P99_MS:g} ms at {TARGET_P99_SUBSCRIBERS:,} subscribers; "
            f"peak RSS < {TARGET_RSS_MB:g} MB at {TARGET_RSS_SUBSCRIBERS:,} subscribers; "
            "delivered 100% at every N.")


def machine_info() -> dict[str, Any]:
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True,
                                  check=False, timeout=10).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    import starlette
    import uvicorn

    return {
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
        "git_modified": git("status", "--porcelain", "--", "src").splitlines(),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": cpu, "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(),
        "starlette": starlette.__version__, "uvicorn": uvicorn.__version__,
        "tasklette_env": {k: v for k, v in os.environ.items() if k.startswith("TASKLETTE_")},
    }


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", default="100,1000,5000",
                        help="comma-separated stream counts (default 100,1000,5000)")
    parser.add_argument("--seconds", type=float, default=15,
                        help="seconds of writing per run (default 15)")
    parser.add_argument("--rate", type=float, default=10,
                        help="changes per second (default 10)")
    parser.add_argument("--writers", type=int, default=128,
                        help="changes in flight at most (threads, each with a keep-alive "
                             "connection; default 128): the writer is open loop")
    parser.add_argument("--servers", default="bare,tasklette",
                        help="comma-separated subset of bare,tasklette (default both)")
    parser.add_argument("--clients", type=int, default=0,
                        help="client processes (default: 1 up to 1,000 streams, else 2)")
    parser.add_argument("--connect-parallel", type=int, default=100,
                        help="streams a client process opens at once (default 100: the "
                             "listen backlog is not flooded)")
    parser.add_argument("--connect-timeout", type=float, default=300,
                        help="seconds for all streams to open (default 300)")
    parser.add_argument("--drain-quiet", type=float, default=10,
                        help="after writing, stop waiting for deliveries when none came for "
                             "this many seconds (default 10)")
    parser.add_argument("--drain-max", type=float, default=180,
                        help="after writing, wait at most this long for deliveries "
                             "(default 180)")
    parser.add_argument("--quiet-wait", type=float, default=15,
                        help="before each run, wait up to this many seconds for other "
                             "processes to go quiet (default 15; 0: do not wait)")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the data directories and server logs")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default "
                             "bench/results/fanout-<time>.json)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed, too")
    args = parser.parse_args(argv)
    args.subscribers = [int(s) for s in args.subscribers.split(",") if s.strip()]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if set(args.servers) - {"bare", "tasklette"}:
        parser.error("--servers takes bare and/or tasklette")
    return args


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    nofile = _raise_nofile(max(args.subscribers) + 1000)  # inherited by the children
    if nofile < max(args.subscribers) + 100:
        print(f"RLIMIT_NOFILE is {nofile}: too low for {max(args.subscribers):,} streams",
              file=sys.stderr)
        return 2
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="tasklette-fanout-"))
    info = machine_info()
    info["uptime_before"] = _uptime()
    info["rlimit_nofile"] = nofile
    runs: list[Run] = []
    print(f"Tasklette fan-out benchmark: {', '.join(f'{n:,}' for n in args.subscribers)} "
          f"streams; {args.rate:g} changes/s for {args.seconds:g} s per run; "
          f"servers: {', '.join(args.servers)}")
    print(f"work dir {work}; {info['uptime_before']}", flush=True)
    try:
        for n in args.subscribers:
            data_dir = work / f"data-{n}"
            seeded = asyncio.run(seed(data_dir))
            bare: Run | None = None
            for kind in args.servers:
                print(f"  {kind}, {n:,} streams:", flush=True)
                run = run_one(kind, n, args, work, seeded)
                judge(run, bare)
                if kind == "bare":
                    bare = run
                runs.append(run)
                print(f"    {run.events} events, delivered {run.delivered_pct:.2f}%, "
                      f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, max "
                      f"{run.max_ms:.1f} ms, RSS {run.rss_connected_mb:.0f} -> "
                      f"{run.rss_end_mb:.0f} MB (peak {run.rss_peak_mb:.0f}), server CPU "
                      f"{run.server_cpu_pct:.0f}%, client lag p99 "
                      f"{run.client_lag_p99_ms:.1f} ms, drain {run.drain_s:.1f} s"
                      + (f"; {'; '.join(run.verdicts)}" if run.verdicts else ""), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: servers and clients stopped", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"\nbenchmark failed, servers stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep_data:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    info["uptime_after"] = _uptime()
    print()
    print(table(runs))
    print()
    print(targets_text())
    print(NOTES.rstrip())
    print(f"load: before {info['uptime_before']}; after {info['uptime_after']}")
    noisy = [f"{r.server} {r.subscribers:,} ({r.other_cpu_pct:.0f}%)" for r in runs
             if r.other_cpu_pct > 25]
    if noisy:
        print("WARNING: other processes were busy during: " + ", ".join(noisy)
              + " -- those latencies are high and their CPU figures low; rerun on an idle "
              "machine.")
    lost = [r for r in runs if r.delivered != r.expected or r.connected != r.subscribers
            or r.duplicates or r.unexpected or r.write_errors]
    missed = [f"{r.server} {r.subscribers:,}" for r in runs
              if any("MISS" in v for v in r.verdicts)]
    for r in runs:
        for error in [*r.stream_errors[:5], *r.write_errors[:5]]:
            print(f"PROBLEM ({r.server} {r.subscribers:,}): {error}")
    print(f"lost deliveries: {sum(r.expected - r.delivered for r in runs)}; targets missed: "
          f"{', '.join(missed) if missed else 'none'}")

    output = args.output or RESULTS / f"fanout-{stamp}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "benchmark": "fanout", "timestamp": stamp, "machine": info,
        "settings": {"subscribers": args.subscribers, "seconds": args.seconds,
                     "rate": args.rate, "writers": args.writers, "servers": args.servers,
                     "clients": args.clients,
                     "connect_parallel": args.connect_parallel,
                     "drain_quiet_s": args.drain_quiet, "drain_max_s": args.drain_max},
        "targets": targets_text(),
        "runs": [{**asdict(r), "delivered_pct": r.delivered_pct} for r in runs],
    }, indent=2, ensure_ascii=False) + "\n")
    print(f"results: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    if lost or (args.strict and missed):
        return 1
    return 0


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False,
                              timeout=5).stdout.strip()
    except OSError:
        load = os.getloadavg()
        return f"load average: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"


if __name__ == "__main__":
    sys.exit(main())
