"""Idle memory benchmark: the resident memory of a server that has just started.

    uv run python bench/idle_rss_bench.py [--rounds 3] [--settle 2]

Starts bare Starlette (bench/bare_app.py, the uvicorn settings of `tasklette serve`)
and `tasklette serve` on a fresh SQLite data directory, one after the other, waits
until each answers its health check and `--settle` seconds more, then reads VmRSS.
It also times how long each took to answer its first health check (start-up).
Prints the median of `--rounds` starts, Tasklette as a ratio to bare, and the verdict
against the target: idle RSS at most 55 MiB. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from api_bench import Server, _free_port, bare_argv, tasklette_argv  # bench/ is on sys.path

TARGET_MIB = 55.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _measure(name: str, argv_for: object, health: str, settle: float,
             work: Path) -> tuple[float, float]:
    """(start-up seconds, idle RSS in MiB) of one start of a server."""
    port = _free_port()
    server = Server(name, argv_for(port), port, work / f"{name}.log", health)  # type: ignore[operator]
    started = time.perf_counter()
    server.start()
    startup = time.perf_counter() - started
    try:
        time.sleep(settle)
        assert server.proc is not None
        return startup, _rss_mib(server.proc.pid)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds to wait after the first health check")
    args = parser.parse_args()

    figures: dict[str, list[tuple[float, float]]] = {"bare": [], "tasklette": []}
    with tempfile.TemporaryDirectory(prefix="tasklette-idle-") as tmp:
        work = Path(tmp)
        for round_ in range(args.rounds):
            figures["bare"].append(_measure("bare", bare_argv, "/healthz", args.settle, work))
            data = work / f"data{round_}"  # a fresh database each time: first start
            figures["tasklette"].append(_measure(
                "tasklette", lambda port, data=data: tasklette_argv(data, port), "/readyz",
                args.settle, work))

    bare_start = statistics.median(s for s, _ in figures["bare"])
    bare_rss = statistics.median(r for _, r in figures["bare"])
    ours_start = statistics.median(s for s, _ in figures["tasklette"])
    ours_rss = statistics.median(r for _, r in figures["tasklette"])
    print(f"{'server':<12} {'start-up':>10} {'idle RSS':>10}   (median of {args.rounds})")
    print(f"{'bare':<12} {bare_start:9.2f}s {bare_rss:7.1f} MiB")
    print(f"{'tasklette':<12} {ours_start:9.2f}s {ours_rss:7.1f} MiB   "
          f"{ours_rss / bare_rss:.2f}x bare RSS, {ours_start / bare_start:.2f}x bare start-up")
    verdict = "met" if ours_rss <= TARGET_MIB else "MISSED"
    print(f"idle RSS {ours_rss:.1f} MiB (target: at most {TARGET_MIB:.0f} MiB) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
