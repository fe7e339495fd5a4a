"""Sign-in flood benchmark: does a flood of wrong passwords slow down the writers?

    uv run python bench/signin_flood_bench.py [--seconds 5] [--rounds 2] [--flooders 50]

Each sign-in checks a password with argon2 (64 MiB and ~0.2 s of a core). The
server hashes in a small pool of its own (services/users.py), so that a flood
neither takes the memory of 50 hashes at once nor queues ahead of the default
thread pool, which runs SQLite's BEGIN and COMMIT for every write.

One run (about 45 s): start the real `tasklette serve` on a fresh data directory;
a writer creates tasks over the API one after another for `--seconds` (quiet),
then again while `--flooders` clients post wrong-password sign-ins without pause
(each from an address and for a username of its own, as a distributed guesser
would, so that the throttle does not answer for the hash). It prints the writer's
p50 and p99 in both phases and the p99 ratio (target: flood p99 within 2x of
quiet p99). A benchmark, not a test: it exits 0 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import multiprocessing
import queue
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api_bench import Server, _free_port, tasklette_argv  # bench/ is on sys.path

PASSWORD = "bench password 1"


def _tasklette(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tasklette", *args], check=True,
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def _flood(base_url: str, flooders: int, stop: object, counts: object) -> None:
    """In a child process: wrong-password sign-ins without pause until `stop` is set."""

    async def main() -> None:
        serial = itertools.count()
        async with httpx.AsyncClient(base_url=base_url, timeout=120,
                                     limits=httpx.Limits(max_connections=flooders)) as client:
            async def one_flooder() -> None:
                while not stop.is_set():  # type: ignore[attr-defined]
                    n = next(serial)
                    address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                    try:
                        response = await client.post(
                            "/signin", data={"username": f"guess{n}", "password": "wrong"},
                            headers={"X-Forwarded-For": address,
                                     "Sec-Fetch-Site": "same-origin"})
                        counts.put(response.status_code)  # type: ignore[attr-defined]
                    except httpx.HTTPError:
                        counts.put(0)  # type: ignore[attr-defined]

            await asyncio.gather(*(one_flooder() for _ in range(flooders)))

    asyncio.run(main())


def _write_for(client: httpx.Client, project_id: int, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        start = time.perf_counter()
        response = client.post(f"/api/v1/projects/{project_id}/tasks",
                               json={"title": f"Task {n}"})
        latencies.append(time.perf_counter() - start)
        if response.status_code != 201:
            raise RuntimeError(f"the writer got {response.status_code}: {response.text}")
    return latencies


def _flooded(base_url: str, flooders: int, statuses: dict[int, int],
             write: Callable[[], list[float]], drain: bool) -> list[float]:
    """Run `write` during a flood; with `drain`, wait until every sign-in is answered
    (the server works through its queue of hashes before the next quiet phase)."""
    stop, counts = multiprocessing.Event(), multiprocessing.Queue()
    flood = multiprocessing.Process(target=_flood, args=(base_url, flooders, stop, counts))
    flood.start()
    time.sleep(1.0)  # let the flood build up
    latencies = write()
    stop.set()
    if not drain:
        flood.terminate()
    while flood.is_alive() or not counts.empty():
        try:
            status = counts.get(timeout=0.5)
        except queue.Empty:
            continue
        statuses[status] = statuses.get(status, 0) + 1
    flood.join(timeout=60)
    return latencies


def _p(values: list[float], q: float) -> float:
    """The q-th percentile in milliseconds (nearest rank: a few samples are enough)."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q / 100 * len(ranked)) - 1)] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=2,
                        help="quiet and flooded phases, alternating")
    parser.add_argument("--flooders", type=int, default=50,
                        help="concurrent wrong-password sign-ins")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tasklette-flood-") as tmp:
        data = Path(tmp) / "data"
        _tasklette("user", "create", "writer", "--password", PASSWORD, "--data-dir", str(data))
        token = _tasklette("token", "create", "writer", "--data-dir", str(data))
        port = _free_port()
        server = Server("tasklette", tasklette_argv(data, port), port, Path(tmp) / "log",
                        "/readyz")
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=120,
                              headers={"Authorization": f"Bearer {token}"}) as writer:
                project = writer.post("/api/v1/projects", json={"name": "Flood"}).json()
                _write_for(writer, project["id"], 1.0)  # warm up
                quiet: list[float] = []
                flooded: list[float] = []
                statuses: dict[int, int] = {}
                # Quiet and flooded phases alternate, so that load from elsewhere on the
                # machine weighs on both alike.
                for round_ in range(args.rounds):
                    quiet += _write_for(writer, project["id"], args.seconds)
                    flooded += _flooded(server.url, args.flooders, statuses,
                                        lambda: _write_for(writer, project["id"],
                                                           args.seconds),
                                        drain=round_ < args.rounds - 1)
        finally:
            server.stop()

    q50, q99 = _p(quiet, 50), _p(quiet, 99)
    f50, f99 = _p(flooded, 50), _p(flooded, 99)
    ratio = f99 / q99
    print(f"writer, quiet:   {len(quiet):5d} tasks  p50 {q50:7.1f} ms  p99 {q99:7.1f} ms")
    print(f"writer, flooded: {len(flooded):5d} tasks  p50 {f50:7.1f} ms  p99 {f99:7.1f} ms"
          f"   ({args.flooders} flooders)")
    signed = sum(statuses.values())
    print(f"sign-ins answered during the floods: {signed}, "
          f"statuses {dict(sorted(statuses.items()))}")
    print(f"p99 flooded / quiet: {ratio:.2f}x  (target: at most 2x) "
          f"{'met' if ratio <= 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
