"""Scale-out API benchmark: api_bench.py on SQLite (1 worker) and PostgreSQL (1 and 2).

    uv run python bench/scale_bench.py [--duration 8] [--rounds 1]
    uv run python bench/scale_bench.py --configs postgresql:1,postgresql:2

Runs bench/api_bench.py once per configuration (each run seeds its own fresh data and
measures its own bare-Starlette baseline with the same number of workers), with the
same scenarios and connection counts, then prints one table: per scenario and
connection count, req/s, p99 and the ratio to the bare baseline of the same run for
every configuration, and the 1 -> 2 worker scaling of req/s per engine.

Configurations are ENGINE:WORKERS[:MODE] (ENGINE: sqlite or postgresql; several
workers need PostgreSQL, as in `tasklette serve`). Runs with 2 or more workers go
through bench/uvicorn_workers.py (`api_bench.py --worker-fix`), as MODE says:

  (none)      --nodelay: uvicorn's multi-worker socket otherwise lacks TCP_NODELAY,
              and every keep-alive request waits ~40 ms for a delayed ACK
              (Kludex/uvicorn#3149), which would hide everything else;
  reuseport   --reuseport: also one SO_REUSEPORT listener per worker, so that wrk's
              50 connections are spread over the workers (with one shared listener
              they mostly land on one worker);
  as-shipped  no fix: what `tasklette serve --workers N` does today.

With --rounds N the configurations run N times, interleaved, and every figure is the
median of the rounds (ratios are taken within each run first). JSON goes to
bench/results/scale-<timestamp>.json (gitignored), beside one api-*.json per run.
`--reuse SCALE_JSON` takes the runs an earlier invocation already made (so that only
what ran under load is measured again: `--rerun postgresql:2`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api_bench import RESULTS, ROOT, format_table  # bench/ is on sys.path (script dir)

BENCH = Path(__file__).resolve().parent
# SQLite is one process (several need PostgreSQL): sqlite:1 is its row.
DEFAULT_CONFIGS = ("sqlite:1,postgresql:1,postgresql:2,postgresql:2:reuseport,"
                   "postgresql:2:as-shipped")
MODES = {"": "nodelay", "reuseport": "reuseport", "as-shipped": "none"}  # --worker-fix
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432"
NOISY_OTHER_CPU = 25.0  # % of a core used by other processes: the row is marked "*"
# PostgreSQL's cost per request over SQLite's, one worker each, same scenario and
# connection count (issue 14): the target for these scenarios.
PG_COST_TARGET = 1.5
PG_COST_SCENARIOS = ("list", "get")
ROWS = (("bare", "bare Starlette"), ("bare-1w", "bare Starlette, 1 worker"),
        ("page", "same page, memory"), ("list", "list 100 tasks"), ("get", "get one task"),
        ("create", "create task"), ("move", "move task"))


@dataclass(frozen=True)
class Config:
    engine: str  # "sqlite" or "postgresql"
    workers: int
    mode: str = ""  # "", "reuseport" or "as-shipped" (see MODES)

    @property
    def key(self) -> str:
        return f"{self.engine}-{self.workers}w" + (f"-{self.mode}" if self.mode else "")

    @property
    def label(self) -> str:
        engine = {"sqlite": "SQLite", "postgresql": "PG"}[self.engine]
        return f"{engine} {self.workers}w" + (f" {self.mode}" if self.mode else "")

    @property
    def worker_fix(self) -> str:
        return MODES[self.mode] if self.workers > 1 else "none"


def config_spec(config: Config) -> str:
    return f"{config.engine}:{config.workers}" + (f":{config.mode}" if config.mode else "")


def parse_config(text: str) -> Config:
    parts = text.strip().split(":")
    if not 2 <= len(parts) <= 3 or parts[0] not in ("sqlite", "postgresql") \
            or not parts[1].isdigit() or int(parts[1]) < 1 \
            or (len(parts) == 3 and parts[2] not in MODES):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected ENGINE:WORKERS[:reuseport|:as-shipped], e.g. postgresql:2")
    mode = parts[2] if len(parts) == 3 else ""
    if parts[0] == "sqlite" and int(parts[1]) > 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: on SQLite, `tasklette serve` runs as one process (--workers N "
            "needs PostgreSQL)")
    if mode and int(parts[1]) == 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a mode needs 2 or more workers")
    return Config(parts[0], int(parts[1]), mode)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS,
                        help=f"comma-separated ENGINE:WORKERS[:MODE] (default "
                             f"{DEFAULT_CONFIGS})")
    parser.add_argument("--database", default=DEFAULT_DATABASE, metavar="URL",
                        help=f"PostgreSQL server for the postgresql runs; each run creates "
                             f"and drops its own database tasklette_bench_<pid> "
                             f"(default {DEFAULT_DATABASE})")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every configuration this many times, interleaved, and "
                             "report medians (default 1)")
    parser.add_argument("--reuse", type=Path, metavar="SCALE_JSON", default=None,
                        help="an earlier scale-*.json: the configurations it measured "
                             "successfully are not run again, their runs (api-*.json) go "
                             "into the table; the others run")
    parser.add_argument("--rerun", default="", metavar="CONFIGS",
                        help="with --reuse: run these configurations again all the same "
                             "(e.g. the ones measured under load)")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the table as Markdown")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default bench/results/scale-<time>.json)")
    # Passed to every api_bench.py run as they are:
    for flag, default in (("--duration", "10"), ("--warmup", "2"), ("--threads", "1"),
                          ("--connections", "1,50"), ("--scenarios", "list,get,create,move"),
                          ("--quiet-wait", "15"), ("--projects", "20"),
                          ("--tasks-per-project", "500"), ("--seed", "1")):
        parser.add_argument(flag, default=default, help=f"for api_bench.py (default {default})")
    args = parser.parse_args(argv)
    try:
        args.configs = [parse_config(c) for c in args.configs.split(",") if c.strip()]
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if len({c.key for c in args.configs}) != len(args.configs):
        parser.error("a configuration is listed twice")
    return args


def reused_runs(path: Path, wanted: list[Config]) -> list[dict[str, Any]]:
    """The runs of an earlier scale JSON (with their api-*.json results) that measured
    one of the `wanted` configurations and succeeded."""
    keys = {c.key for c in wanted}
    runs = []
    for run in json.loads(path.read_text())["runs"]:
        if run["config"] in keys and run["exit_code"] == 0 and Path(run["json"]).exists():
            data = json.loads(Path(run["json"]).read_text())
            runs.append({**run, "results": data["results"], "machine": data["machine"],
                         "reused_from": run.get("reused_from") or str(path)})
    return runs


def api_bench_argv(args: argparse.Namespace, config: Config, output: Path) -> list[str]:
    argv = [sys.executable, str(BENCH / "api_bench.py"), "--output", str(output)]
    for flag in ("duration", "warmup", "threads", "connections", "scenarios", "quiet_wait",
                 "projects", "tasks_per_project", "seed"):
        argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if config.engine == "postgresql":
        argv += ["--database", args.database]
    if config.workers > 1:
        argv += ["--workers", str(config.workers)]
    if config.worker_fix != "none":
        argv += ["--worker-fix", config.worker_fix]
    return argv


def run_config(args: argparse.Namespace, config: Config, output: Path) -> dict[str, Any]:
    """One api_bench.py run (its output goes straight to ours); a summary of it."""
    argv = api_bench_argv(args, config, output)
    print(f"\n=== {config.label}: {' '.join(argv[1:])}", flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    code = subprocess.run(argv, cwd=ROOT, check=False).returncode
    run: dict[str, Any] = {
        "config": config.key, "exit_code": code, "json": str(output),
        "seconds": round(time.monotonic() - started, 1),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "results": []}
    if output.exists():
        data = json.loads(output.read_text())
        run["results"] = data["results"]
        run["machine"] = data["machine"]
        run["server_log_warnings"] = len(data.get("server_log_warnings", []))
        run["server_log_client_disconnects"] = data.get("server_log_client_disconnects", 0)
    return run


def busiest_share(results: list[dict[str, Any]]) -> list[float]:
    """Per Tasklette row of a multi-worker run: the busiest process's share of the
    server's CPU (1.0: one worker did everything; 0.5: two shared it evenly)."""
    shares = []
    for r in results:
        split = r.get("process_cpu_pct") or []
        if not r["scenario"].startswith("bare") and sum(split) > 0:
            shares.append(split[0] / sum(split))
    return shares


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarise(configs: list[Config], runs: list[dict[str, Any]]
              ) -> dict[tuple[str, int, str], dict[str, float | None]]:
    """{(scenario, conns, config key): median rps, p99, vs bare, other CPU over rounds}."""
    collected: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for run in runs:
        for r in run["results"]:
            collected.setdefault((r["scenario"], r["connections"], run["config"]), []).append(r)
    cells: dict[tuple[str, int, str], dict[str, float | None]] = {}
    for key, results in collected.items():
        cells[key] = {
            "rps": _median([r["rps"] for r in results]),
            "p99_ms": _median([r["p99_ms"] for r in results]),
            "vs_bare": _median([r["vs_bare"] for r in results if r["vs_bare"] is not None]),
            "other_cpu_pct": _median([r["other_cpu_pct"] for r in results]),
            "server_cpu_pct": _median([r["server_cpu_pct"] for r in results]),
            "db_cpu_pct": _median([r["db_cpu_pct"] for r in results
                                   if r.get("db_cpu_pct") is not None]),
            "rounds": len(results)}
    return cells


def scaling_pairs(configs: list[Config]) -> list[tuple[str, Config, Config]]:
    """(column title, 1-worker config, multi-worker config) per engine with both."""
    pairs = []
    for engine, name in (("postgresql", "PG"), ("sqlite", "SQLite")):
        one = next((c for c in configs if c.engine == engine and c.workers == 1), None)
        for many in configs:
            if one and many.engine == engine and many.workers > 1 \
                    and many.mode != "as-shipped":
                mode = f" {many.mode}" if many.mode else ""
                pairs.append((f"{name} 1→{many.workers}w{mode}", one, many))
    return pairs


def comparison_rows(configs: list[Config], cells: dict[tuple[str, int, str], Any],
                    connections: list[int]) -> list[tuple[str, ...]]:
    pairs = scaling_pairs(configs)
    head = ("scenario", "conns", *(c.label for c in configs), *(p[0] for p in pairs))
    rows: list[tuple[str, ...]] = [head]
    for scenario, label in ROWS:
        if not any((scenario, n, c.key) in cells for n in connections for c in configs):
            continue
        for conns in connections:
            row = [label, str(conns)]
            for config in configs:
                cell = cells.get((scenario, conns, config.key))
                if cell is None:
                    row.append("-")
                    continue
                ratio = "" if cell["vs_bare"] is None else f" · {cell['vs_bare']:.2f}x"
                noisy = "*" if (cell["other_cpu_pct"] or 0) > NOISY_OTHER_CPU else ""
                row.append(f"{cell['rps']:,.0f} · {cell['p99_ms']:.1f}{ratio}{noisy}")
            for _, one, many in pairs:
                # the bare row compares bare at 2 workers with bare at 1 (both runs' own)
                base = cells.get((scenario, conns, one.key))
                top = cells.get((scenario, conns, many.key))
                row.append(f"{top['rps'] / base['rps']:.2f}x"
                           if base and top and base["rps"] else "-")
            rows.append(tuple(row))
    return rows


def engine_rows(configs: list[Config], cells: dict[tuple[str, int, str], Any],
                connections: list[int]) -> list[tuple[str, ...]]:
    """PostgreSQL's time per request over SQLite's (1 worker each), with verdicts.

    Time per request is 1000 / req/s: the server's time per request at that connection
    count (wrk keeps every connection busy), so the ratio is SQLite's req/s over
    PostgreSQL's in the same run. Empty unless both sqlite:1 and postgresql:1 ran.
    """
    sqlite = next((c for c in configs if c.engine == "sqlite" and c.workers == 1), None)
    pg = next((c for c in configs if c.engine == "postgresql" and c.workers == 1), None)
    if sqlite is None or pg is None:
        return []
    rows: list[tuple[str, ...]] = [("scenario", "conns", "SQLite ms/req", "PG ms/req",
                                    "PG / SQLite", "target")]
    for scenario, label in ROWS:
        if scenario.startswith("bare") or scenario == "page":
            continue
        for conns in connections:
            lite, post = cells.get((scenario, conns, sqlite.key)), cells.get(
                (scenario, conns, pg.key))
            if not lite or not post or not lite["rps"] or not post["rps"]:
                continue
            ratio = lite["rps"] / post["rps"]
            verdict = "-"
            if scenario in PG_COST_SCENARIOS:
                verdict = (f"≤{PG_COST_TARGET:g}x "
                           f"{'ok' if ratio <= PG_COST_TARGET else 'MISS'}")
            noisy = "*" if max(lite["other_cpu_pct"] or 0,
                               post["other_cpu_pct"] or 0) > NOISY_OTHER_CPU else ""
            rows.append((label, str(conns), f"{1000 / lite['rps']:.3f}",
                         f"{1000 / post['rps']:.3f}", f"{ratio:.2f}x{noisy}", verdict))
    return rows if len(rows) > 1 else []


def markdown(rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |",
             "| " + " | ".join(["---", *["---:"] * (len(rows[0]) - 1)]) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def legend(configs: list[Config]) -> str:
    text = ("cells: req/s · p99 ms · req/s over the scenario's baseline in the same run, "
            "served with the same number of workers (bare Starlette; for list 100 tasks, "
            "the same page served from memory by bare Starlette) (\"bare Starlette\" and "
            "\"same page\" rows: those baselines themselves; "
            "\"bare Starlette, 1 worker\": measured in the multi-worker runs for reference). "
            f"* = other processes used > {NOISY_OTHER_CPU:.0f}% of a core during that "
            "measurement (low figure). 1→Nw: req/s with N workers over req/s with 1, same "
            "engine.")
    if any(c.workers > 1 for c in configs):
        text += (" Multi-worker runs: TCP_NODELAY set on the connections "
                 "(bench/uvicorn_workers.py --nodelay, Kludex/uvicorn#3149); \"reuseport\": "
                 "also one SO_REUSEPORT listener per worker, which spreads the connections "
                 "over the workers; \"as-shipped\": no fix, `tasklette serve --workers N` "
                 "as it is.")
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    connections = [int(c) for c in args.connections.split(",") if c.strip()]
    print(f"scale benchmark: {len(args.configs)} configurations x {args.rounds} round(s): "
          + ", ".join(c.label for c in args.configs), flush=True)
    args.rerun = {parse_config(t).key for t in args.rerun.split(",") if t.strip()}
    configs = args.configs  # the table's columns
    runs: list[dict[str, Any]] = []
    if args.reuse:
        runs = reused_runs(args.reuse, [c for c in configs if c.key not in args.rerun])
        print(f"reusing from {args.reuse}: " + ", ".join(sorted({r["config"] for r in runs})),
              flush=True)
    to_run = [c for c in configs if c.key not in {r["config"] for r in runs}]
    try:
        for round_no in range(1, args.rounds + 1):
            for config in to_run:
                suffix = f"-r{round_no}" if args.rounds > 1 else ""
                output = RESULTS / f"api-{stamp}-{config.key}{suffix}.json"
                run = run_config(args, config, output)
                run["round"] = round_no
                runs.append(run)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

    cells = summarise(configs, runs)
    rows = comparison_rows(configs, cells, connections)
    print()
    print(format_table(rows, right=set(range(1, len(rows[0])))))
    print()
    print(legend(configs))
    engines = engine_rows(configs, cells, connections)
    if engines:
        print()
        print("PostgreSQL per request, as a ratio to SQLite in the same run (1 worker each):")
        print(format_table(engines, right=set(range(1, len(engines[0]) - 1))))
        print(f"ms/req = 1000 / req/s (the server's time per request at that connection "
              f"count); target: PostgreSQL ≤ {PG_COST_TARGET:g}x SQLite on "
              f"{' and '.join(PG_COST_SCENARIOS)}; * = measured under load.")
    for run in runs:
        config = next(c for c in configs if c.key == run["config"])
        others = [r["other_cpu_pct"] for r in run["results"]]
        balance = ""
        if config.workers > 1:
            run["busiest_worker_share"] = busiest_share(run["results"])
            balance = (f"busiest worker: {_median(run['busiest_worker_share']) or 0:.0%} "
                       "of the app's server CPU (median over its rows), ")
        print(f"{config.label}{' round ' + str(run['round']) if args.rounds > 1 else ''}: "
              f"exit {run['exit_code']}, {run['seconds']:.0f} s, load average "
              f"{run['loadavg_before'][0]:.2f} -> {run['loadavg_after'][0]:.2f}, other CPU "
              f"median {_median(others) or 0:.0f}% max {max(others, default=0):.0f}%, "
              f"{balance}server log: {run.get('server_log_warnings', '?')} warnings, "
              f"{run.get('server_log_client_disconnects', '?')} client disconnects")
    if args.markdown:
        print()
        print(markdown(rows))
        if engines:
            print()
            print(markdown(engines))

    output = args.output or RESULTS / f"scale-{stamp}.json"
    output.write_text(json.dumps({
        "benchmark": "scale", "timestamp": stamp,
        "machine": next((r["machine"] for r in runs if "machine" in r), {}),
        "settings": {**{k: v for k, v in vars(args).items()
                        if k not in ("output", "markdown", "configs", "reuse", "rerun")},
                     "config_specs": [config_spec(c) for c in configs],
                     "reused_from": str(args.reuse) if args.reuse else None},
        "legend": legend(configs),
        "table": [dict(zip(rows[0], row, strict=True)) for row in rows[1:]],
        "postgresql_vs_sqlite": [dict(zip(engines[0], row, strict=True))
                                 for row in engines[1:]] if engines else [],
        "cells": [{"scenario": s, "connections": n, "config": k, **v}
                  for (s, n, k), v in sorted(cells.items())],
        "runs": [{k: v for k, v in run.items() if k not in ("results", "machine")}
                 for run in runs],
    }, indent=2, ensure_ascii=False) + "\n")
    print(f"results: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 1 if any(run["exit_code"] for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
