"""Upload benchmark: a large streamed attachment into `tasklette serve`, against baselines.

Two baselines, each in bare Starlette:

- **raw sink** (this file, `--serve-bare PORT`): one endpoint that reads
  `request.stream()` and throws the bytes away: what any Starlette app pays to receive
  a body.
- **prototype** (`upload_prototype_app.py`): a streaming upload prototype that feeds the
  body to streaming-form-data, hashes the file part with hashlib's SHA-256 and writes
  it to a file on the same file system as Tasklette's blob store, then fsyncs it. The
  essential work of a durable upload; the target is Tasklette at >= 90 % of it.

Tasklette also checks the token and limits, moves the file into the blob store (rename,
fsync of the directory) and records it. All are served by uvicorn with the arguments of
`tasklette serve`, in their own processes, side by side; the runs are interleaved
(round i uploads to each server in turn), so a change in the machine's load falls on
all of them. The client streams the same multipart body (generated as it is sent, so
the client holds no file either).

Reported per server: throughput (MB/s, median of the runs) and the server's resident
memory: before the first upload, and its peak while uploading (sampled from
/proc/PID/status every 20 ms). Tasklette's figures are also given as ratios to both
baselines', with a verdict against the target. "Flat memory" means the peak grows by
far less than the file: the run fails (exit 1) if Tasklette's RSS grows by more than
`--max-growth-mib` (32 MiB); `--strict` also fails it when the target is missed.

    uv run python bench/upload_bench.py                  # 200 MB, 3 runs each
    uv run python bench/upload_bench.py --size-mb 1000 --runs 1
    uv run python bench/upload_bench.py --concurrency 4  # four uploads at once
    flock /tmp/tasklette-bench.lock uv run python bench/upload_bench.py --runs 5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "tasklette-upload-bench-boundary"
CHUNK = 1024 * 1024
TARGET = 0.90  # Tasklette's throughput over the prototype's, at least


# --- the baseline server ---------------------------------------------------------------------


def serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def discard(request: Request) -> JSONResponse:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return JSONResponse({"received": size}, status_code=201)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/upload", discard, methods=["POST"]),
                            Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                loop="asyncio", proxy_headers=True, server_header=False,
                timeout_graceful_shutdown=10)


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if not key.startswith("TASKLETTE_")}


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=clean_env(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start")

    def cpu_seconds(self) -> float:
        """CPU time the server process (all its threads) has used so far."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


# --- the upload --------------------------------------------------------------------------------


def body_parts(size: int) -> tuple[bytes, bytes]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"bench.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def file_chunks(size: int, seed: bytes) -> Iterator[bytes]:
    """`size` bytes, a chunk at a time (a counter hashed into each chunk: no two alike)."""
    block = hashlib.sha256(seed).digest() * (CHUNK // 32)
    sent, index = 0, 0
    while sent < size:
        piece = block[:min(CHUNK, size - sent)]
        piece = index.to_bytes(8, "big") + piece[8:] if len(piece) > 8 else piece
        yield piece
        sent += len(piece)
        index += 1


def expected_sha256(size: int, seed: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in file_chunks(size, seed):
        digest.update(chunk)
    return digest.hexdigest()


def upload_once(url: str, headers: dict[str, str], size: int, seed: bytes) -> tuple[float, Any]:
    head, tail = body_parts(size)

    def body() -> Iterator[bytes]:
        yield head
        yield from file_chunks(size, seed)
        yield tail

    length = len(head) + size + len(tail)
    started = time.perf_counter()
    response = httpx.post(url, content=body(), timeout=600, headers={
        **headers, "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        "content-length": str(length)})
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
    return elapsed, response.json()


@dataclass
class Measured:
    server: Server
    url: str
    headers: dict[str, str]
    check: bool
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the server's CPU seconds per run
    other: list[float] = field(default_factory=list)  # other processes' CPU (cores) per run
    rss_before: float = 0.0
    rss_peak: float = 0.0

    @property
    def name(self) -> str:
        return self.server.name

    def mb_per_s(self, size: int, concurrency: int) -> float:
        return size * concurrency / statistics.median(self.seconds) / 1e6

    def cpu_per_gb(self, size: int, concurrency: int) -> float:
        return statistics.median(self.cpu) / (size * concurrency / 1e9)

    @property
    def growth(self) -> float:
        return self.rss_peak - self.rss_before

    def warm_up(self) -> None:
        upload_once(self.url, self.headers, 1024 * 1024, b"warm-up")  # first-request costs
        time.sleep(0.5)
        self.rss_before = self.rss_peak = self.server.rss_mib()

    def sample(self) -> None:
        self.rss_peak = max(self.rss_peak, self.server.rss_mib())

    def run(self, run: int, size: int, concurrency: int) -> None:
        answers: list[Any] = [None] * concurrency
        seeds = [f"{self.name}-{run}-{i}".encode() for i in range(concurrency)]

        def one(index: int) -> None:
            answers[index] = upload_once(self.url, self.headers, size, seeds[index])[1]

        cpu, mine, (busy, _) = self.server.cpu_seconds(), own_cpu(), cpu_busy()
        started = time.perf_counter()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.seconds.append(time.perf_counter() - started)
        self.cpu.append(self.server.cpu_seconds() - cpu)
        others = cpu_busy()[0] - busy - self.cpu[-1] - (own_cpu() - mine)
        self.other.append(max(others, 0.0) / self.seconds[-1])
        if self.check:
            for answer, seed in zip(answers, seeds, strict=True):
                (stored,) = answer
                assert stored["size"] == size, stored
                assert stored["sha256"] == expected_sha256(size, seed), "bad checksum"


def cpu_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (all cores), from /proc/stat;
    time the hypervisor gave other machines (steal) is in neither."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    user, nice, system, idle, iowait, irq, softirq = (fields + [0.0] * 7)[:7]
    tick = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq
    return busy / tick, (busy + idle + iowait) / tick


def own_cpu() -> float:
    """CPU seconds this process (the client) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_for_quiet(max_wait: float, threshold: float = 0.2) -> float:
    """Wait (up to `max_wait` s) until the machine's other processes use under
    `threshold` of a core (the servers are idle between runs); what they used last."""
    deadline = time.monotonic() + max_wait
    while True:
        busy, mine = cpu_busy()[0], own_cpu()
        time.sleep(0.5)
        other = (cpu_busy()[0] - busy - (own_cpu() - mine)) / 0.5
        if other < threshold or time.monotonic() >= deadline:
            return other


def measure(servers: list[Measured], size: int, runs: int, concurrency: int,
            quiet_wait: float = 0.0) -> float:
    """Interleaved runs over `servers`; the machine's mean CPU use meanwhile (cores).
    Before each round, wait up to `quiet_wait` s for other processes to go quiet."""
    for measured in servers:
        measured.warm_up()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for measured in servers:
                measured.sample()
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    busy0, total0 = cpu_busy()
    try:
        for run in range(runs):
            order = servers if run % 2 == 0 else servers[::-1]
            if quiet_wait > 0:
                wait_for_quiet(quiet_wait)
            for measured in order:
                measured.run(run, size, concurrency)
    finally:
        stop.set()
        sampler.join()
    busy1, total1 = cpu_busy()
    return (busy1 - busy0) / max(total1 - total0, 1) * (os.cpu_count() or 1)


def setup_tasklette(data_dir: Path, port: int) -> tuple[Server, str, str]:
    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "tasklette", *args, "--data-dir",
                               str(data_dir)], env=clean_env(), capture_output=True,
                              text=True, check=True).stdout.strip()

    cli("user", "create", "bench", "--password", "upload bench password")
    token = cli("token", "create", "bench")
    server = Server("tasklette", [sys.executable, "-m", "tasklette", "serve", "--port",
                                  str(port), "--data-dir", str(data_dir)], port)
    server.start()
    auth = {"authorization": f"Bearer {token}"}
    project = httpx.post(server.url + "/api/v1/projects", json={"name": "Bench"},
                         headers=auth).json()
    task = httpx.post(server.url + f"/api/v1/projects/{project['id']}/tasks",
                      json={"title": "Large files"}, headers=auth).json()
    return server, token, f"{server.url}/api/v1/tasks/{task['id']}/attachments"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200, help="file size (MB, 10^6)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1, help="uploads at once")
    parser.add_argument("--max-growth-mib", type=float, default=32.0)
    parser.add_argument("--no-check", action="store_true",
                        help="skip checking each stored file's SHA-256")
    parser.add_argument("--quiet-wait", type=float, default=15,
                        help="before each round, wait up to this many seconds for other "
                             "processes to go quiet (default 15; 0: do not wait)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when Tasklette is under the target as well")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0

    size = args.size_mb * 1_000_000
    work = Path(tempfile.mkdtemp(prefix="tasklette-upload-bench-"))
    (work / "prototype").mkdir()
    bare = Server("raw sink", [sys.executable, __file__, "--serve-bare",
                               str(port := free_port())], port)
    prototype = Server("prototype", [sys.executable, str(ROOT / "bench" /
                                     "upload_prototype_app.py"),
                                     str(port := free_port()), str(work / "prototype")], port)
    tasklette: Server | None = None
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    try:
        bare.start()
        prototype.start()
        tasklette, token, url = setup_tasklette(work / "data", free_port())
        base = Measured(bare, bare.url + "/upload", {}, check=False)
        proto = Measured(prototype, prototype.url + "/upload", {},
                         check=not args.no_check)
        ours = Measured(tasklette, url, {"authorization": f"Bearer {token}"},
                        check=not args.no_check)
        cores = measure([base, proto, ours], size, args.runs, args.concurrency,
                        args.quiet_wait)
    finally:
        for server in (bare, prototype, tasklette):
            if server is not None:
                server.stop()
        shutil.rmtree(work, ignore_errors=True)
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    measured = (base, proto, ours)
    rates = {m.name: m.mb_per_s(size, args.concurrency) for m in measured}
    print(f"\n{args.concurrency} x {args.size_mb} MB per run, {args.runs} interleaved runs "
          f"(median), streamed multipart/form-data\n")
    print(f"{'server':<12} {'MB/s':>8} {'runs (MB/s)':<26} {'CPU s/GB':>8} {'other':>6} "
          f"{'RSS before':>11} {'RSS peak':>9} {'growth':>8}")
    for m in measured:
        each = " ".join(f"{size * args.concurrency / t / 1e6:.0f}" for t in m.seconds)
        print(f"{m.name:<12} {rates[m.name]:>8.1f} {each:<26} "
              f"{m.cpu_per_gb(size, args.concurrency):>8.2f} "
              f"{statistics.median(m.other) * 100:>5.0f}% {m.rss_before:>7.1f} MiB "
              f"{m.rss_peak:>5.1f} MiB {m.growth:>4.1f} MiB")
    vs_bare = rates[ours.name] / rates[base.name]
    vs_proto = rates[ours.name] / rates[proto.name]
    per_run = [p / t for p, t in zip(proto.seconds, ours.seconds, strict=True)]
    print(f"\ntasklette / raw sink:  throughput {vs_bare:.2f}x")
    print(f"tasklette / prototype: throughput {vs_proto:.2f}x (per round: "
          f"{', '.join(f'{r:.2f}' for r in per_run)}), server CPU per byte "
          f"{ours.cpu_per_gb(size, 1) / proto.cpu_per_gb(size, 1):.2f}x, peak RSS "
          f"{ours.rss_peak / proto.rss_peak:.2f}x")
    print(f"machine: {cores:.2f} cores busy on average during the runs (of "
          f"{os.cpu_count()}), load average {' '.join(load_before)} -> "
          f"{' '.join(load_after)}")
    loaded = max(statistics.median(m.other) for m in measured)
    if loaded > 0.25:
        print(f"WARNING: other processes used {loaded:.0%} of a core (median of a "
              "server's runs): the figures are low and noisy; compare the ratios, or rerun")
    met = vs_proto >= TARGET
    print(f"target tasklette >= {TARGET:.0%} of the prototype: "
          f"{'MET' if met else 'NOT MET'} ({vs_proto:.0%})")
    flat = ours.growth <= args.max_growth_mib
    print(f"memory stays flat (tasklette grew {ours.growth:.1f} MiB for "
          f"{size / 2**20:.0f} MiB files)" if flat else
          f"MEMORY GREW by {ours.growth:.1f} MiB (limit {args.max_growth_mib} MiB)")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (results / f"upload-{stamp}.json").write_text(json.dumps({
        "size_bytes": size, "runs": args.runs, "concurrency": args.concurrency,
        "servers": [{"name": m.name, "seconds": m.seconds, "cpu_seconds": m.cpu,
                     "other_cores": m.other, "mb_per_s":
                     rates[m.name], "rss_before_mib": m.rss_before,
                     "rss_peak_mib": m.rss_peak} for m in measured],
        "ratio_to_raw_sink": vs_bare, "ratio_to_prototype": vs_proto,
        "target_met": met, "flat": flat, "machine_cores_busy": cores,
        "loadavg": [load_before, load_after]}, indent=2))
    return 0 if flat and (met or not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
