"""Import benchmark: a generated Trello board of 5,000 cards, imported as `tasklette import
trello` does it, next to a baseline of the same size measured in the same run.

    uv run python bench/import_bench.py [--cards 5000] [--runs 3] [--database URL]

What one run does (about half a minute with the defaults):

1. generates a Trello board export (JSON) with --cards cards over 5 lists (one of them
   archived), 10 labels, 6 members; half of the cards have 1-2 checklists of 2-6
   items, 60 % have 1-4 comments (`commentCard` actions), 10 % have attachments,
   40 % have a due date; descriptions of up to 60 words;
2. baseline, in a child process: parse the file with orjson (what the importer
   uses) and insert as many plain rows as the import writes tasks, subtasks and
   comments, with one `executemany` into a fresh table of a fresh database (SQLite
   with Tasklette's pragmas: WAL, synchronous=FULL), in one transaction;
3. import, in a child process: a fresh data directory (or PostgreSQL database), one
   user, then `importing.read` + `writer.write`, exactly the code of the CLI and of
   the web upload; the rows written are counted and checked against the board;
4. prints seconds (best of --runs) and peak RSS of each child (from wait4), the
   import's ratio to the baseline, and the target (import < 10 s), and writes
   bench/results/import-<UTC timestamp>.json.

It is a benchmark, not a test: it exits 0 when the target is missed, 1 only when the
import failed or wrote the wrong rows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT / "src"))  # also works when run without `uv run`

TARGET_SECONDS = 10.0
OWNER = "bench"
WORDS = ("deploy", "review", "migration", "invoice", "customer", "release", "design", "bug",
         "login", "search", "export", "payment", "mobile", "report", "database", "cache",
         "onboarding", "docs", "pricing", "security", "audit", "backup", "newsletter", "api",
         "dashboard", "staging", "hotfix", "feedback", "roadmap", "analytics")
COLORS = ("green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink",
          "black")


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _id(rng: random.Random, when: dt.datetime) -> str:
    """A Trello-like id: 4 bytes of Unix time, then 8 random bytes, in hex."""
    return f"{int(when.timestamp()):08x}{rng.getrandbits(64):016x}"


def generate(cards: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, int]]:
    """A Trello board export, and what an import of it must write."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

    def stamp(days: float) -> str:
        return (start + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    lists = [{"id": _id(rng, start), "name": name, "pos": 16384 * (i + 1), "closed": i == 4}
             for i, name in enumerate(("Backlog", "To do", "Doing", "Done", "Old"))]
    labels = [{"id": _id(rng, start), "name": rng.choice(("", _words(rng, 1, 2))),
               "color": color} for color in COLORS]
    members = [{"id": _id(rng, start), "username": f"member{i}", "fullName": f"Member {i}"}
               for i in range(6)]
    board: dict[str, Any] = {"id": _id(rng, start), "name": "Generated board",
                             "desc": _words(rng, 5, 20), "lists": lists, "labels": labels,
                             "members": members, "cards": [], "checklists": [],
                             "actions": []}
    expected = {"columns": 4, "tasks": 0, "subtasks": 0, "comments": 0, "labels": len(labels)}
    for n in range(cards):
        created = rng.uniform(0, 300)
        target = rng.choice(lists)
        card_id = _id(rng, start + dt.timedelta(days=created))
        card: dict[str, Any] = {
            "id": card_id, "name": f"{_words(rng, 2, 7).capitalize()} #{n}",
            "idList": target["id"], "pos": rng.uniform(1, 1_000_000), "closed": n % 97 == 0,
            "desc": _words(rng, 0, 60), "dateLastActivity": stamp(created + 3),
            "idLabels": [label["id"] for label in rng.sample(labels, rng.randint(0, 3))],
            "idMembers": [m["id"] for m in rng.sample(members, rng.randint(0, 2))],
            "due": stamp(created + 14) if rng.random() < 0.4 else None,
            "dueComplete": rng.random() < 0.3, "attachments": [], "idChecklists": [],
            "badges": {"comments": 0}, "customFieldItems": []}
        if rng.random() < 0.1:
            card["attachments"] = [{"id": _id(rng, start), "name": f"file{k}.pdf",
                                    "url": f"https://trello.com/1/cards/{card_id}/{k}.pdf"}
                                   for k in range(rng.randint(1, 3))]
        imported = not card["closed"] and not target["closed"]
        expected["tasks"] += imported
        if rng.random() < 0.5:
            for c in range(rng.randint(1, 2)):
                items = [{"id": _id(rng, start), "name": _words(rng, 2, 6), "pos": k,
                          "state": rng.choice(("complete", "incomplete"))}
                         for k in range(rng.randint(2, 6))]
                board["checklists"].append({"id": _id(rng, start), "idCard": card_id,
                                            "name": f"Checklist {c + 1}", "pos": c,
                                            "checkItems": items})
                expected["subtasks"] += len(items) if imported else 0
        if rng.random() < 0.6:
            for _ in range(rng.randint(1, 4)):
                member = rng.choice(members)
                board["actions"].append({
                    "id": _id(rng, start), "type": "commentCard",
                    "date": stamp(created + rng.uniform(0, 30)),
                    "data": {"text": _words(rng, 3, 40), "card": {"id": card_id}},
                    "memberCreator": {"id": member["id"], "username": member["username"],
                                      "fullName": member["fullName"]}})
                expected["comments"] += imported
        board["cards"].append(card)
    return board, expected


# --- children: each measured on its own, peak RSS included ----------------------------


def child_baseline(path: Path, work: Path, rows: int, database_url: str) -> dict[str, Any]:
    """Parse the file, then one executemany of `rows` plain rows, in one transaction."""
    import orjson

    started = time.perf_counter()
    board = orjson.loads(path.read_bytes())
    parsed = time.perf_counter()
    text = [(i, i // 3, f"{card['name']}", card["desc"]) for i, card in
            zip(range(rows), (board["cards"] * (rows // len(board["cards"]) + 1)), strict=False)]
    if database_url:
        import asyncpg

        async def insert() -> None:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("CREATE TEMP TABLE bench_rows (id BIGINT PRIMARY KEY, "
                                   "parent BIGINT, title TEXT, body TEXT)")
                async with conn.transaction():
                    await conn.executemany("INSERT INTO bench_rows VALUES ($1, $2, $3, $4)",
                                           text)
            finally:
                await conn.close()

        asyncio.run(insert())
    else:
        from tasklette.storage.sqlite import connect

        conn = connect(work / "baseline.db")
        conn.execute("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, parent INTEGER, "
                     "title TEXT, body TEXT)")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO bench_rows VALUES (?, ?, ?, ?)", text)
        conn.execute("COMMIT")
        conn.close()
    done = time.perf_counter()
    return {"seconds": done - started, "parse_seconds": parsed - started,
            "insert_seconds": done - parsed, "rows": len(text)}


def child_import(path: Path, work: Path, database_url: str) -> dict[str, Any]:
    """Import the file as the CLI does; count what was written."""
    from tasklette.services import importing, users
    from tasklette.services.importing import writer
    from tasklette.services.permissions import Actor
    from tasklette.settings import load_settings
    from tasklette.storage.open import connect

    async def run() -> dict[str, Any]:
        settings = load_settings(environ={}, data_dir=work / "data", database_url=database_url)
        db = await connect(settings)
        try:
            row = await users.create(db, OWNER, "bench-password-123")
            actor = Actor(row["id"], row["username"], row["display_name"])
            started = time.perf_counter()
            plan = importing.read("trello", path.read_bytes())
            read = time.perf_counter()
            result = await writer.write(db, actor, plan)
            done = time.perf_counter()
            async with db.reading() as conn:
                search = await conn.fetchval(
                    "SELECT COUNT(*) FROM task_search" if not database_url else
                    "SELECT COUNT(*) FROM task_search s JOIN tasks t ON t.id = s.task_id")
        finally:
            await db.close()
        return {"seconds": done - started, "read_seconds": read - started,
                "write_seconds": done - read, "indexed": int(search),
                "result": {k: v for k, v in result.as_dict().items()
                           if k in ("columns", "tasks", "subtasks", "comments", "labels")}}

    return asyncio.run(run())


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child; its JSON answer plus its peak RSS (wait4, in MiB)."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[1]} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    answer: dict[str, Any] = json.loads(out)
    answer["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return answer


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=5000, help="cards on the board (5000)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of the baseline and of the import; the best counts (3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--database", default="", help="a PostgreSQL URL to import into "
                        "instead of SQLite; each run gets a fresh database next to it")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _fresh_postgres(url: str, name: str) -> str:
    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return url.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str, name: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        kind, path, work, *rest = args.child
        if kind == "baseline":
            answer = child_baseline(Path(path), Path(work), int(rest[0]), rest[1])
        else:
            answer = child_import(Path(path), Path(work), rest[0])
        print(json.dumps(answer))
        return 0

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="tasklette-import-bench-"))
    board, expected = generate(args.cards, rng)
    path = work / "board.json"
    path.write_text(json.dumps(board))
    rows = expected["tasks"] + expected["subtasks"] + expected["comments"]
    print(f"Board: {args.cards:,} cards ({expected['tasks']:,} to import), "
          f"{expected['subtasks']:,} checklist items, {expected['comments']:,} comments, "
          f"{path.stat().st_size / 1e6:.1f} MB of JSON; {rows:,} rows to write.")
    baselines, imports = [], []
    problems: list[str] = []
    for run in range(args.runs):
        run_dir = work / f"run{run}"
        run_dir.mkdir()
        db_name = f"tasklette_import_bench_{os.getpid()}_{run}"
        url = _fresh_postgres(args.database, db_name) if args.database else ""
        try:
            baselines.append(run_child(["--child", "baseline", str(path), str(run_dir),
                                        str(rows), url]))
            answer = run_child(["--child", "import", str(path), str(run_dir), url])
        finally:
            if args.database:
                _drop_postgres(args.database, db_name)
        imports.append(answer)
        wanted = {k: expected[k] for k in answer["result"]}
        if answer["result"] != wanted:
            problems.append(f"run {run}: wrote {answer['result']}, expected {wanted}")
        if answer["indexed"] != expected["tasks"] + expected["subtasks"]:
            problems.append(f"run {run}: {answer['indexed']} tasks in the search index")
        print(f"  run {run + 1}: baseline {baselines[-1]['seconds']:.2f} s, "
              f"import {answer['seconds']:.2f} s")
    base = min(baselines, key=lambda b: b["seconds"])
    best = min(imports, key=lambda i: i["seconds"])
    engine = "PostgreSQL" if args.database else "SQLite"
    ratio = best["seconds"] / base["seconds"]
    print()
    print(f"{'':24}{'seconds':>10}{'peak RSS':>12}   detail")
    print(f"{'baseline':24}{base['seconds']:>10.2f}{base['peak_rss_mib']:>9.0f} MiB   "
          f"orjson {base['parse_seconds']:.2f} s + executemany of {base['rows']:,} rows "
          f"{base['insert_seconds']:.2f} s ({engine})")
    print(f"{'import (read + write)':24}{best['seconds']:>10.2f}{best['peak_rss_mib']:>9.0f} MiB"
          f"   read {best['read_seconds']:.2f} s + write {best['write_seconds']:.2f} s "
          f"({engine}, one transaction)")
    verdict = "met" if best["seconds"] < TARGET_SECONDS else "MISSED"
    print(f"\nimport / baseline: {ratio:.1f}x;  target: import < {TARGET_SECONDS:.0f} s: "
          f"{verdict}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"import-{stamp}.json"
    out.write_text(json.dumps({
        "cards": args.cards, "expected": expected, "engine": engine, "runs": args.runs,
        "baselines": baselines, "imports": imports, "ratio": ratio,
        "target_seconds": TARGET_SECONDS, "problems": problems,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
    }, indent=2))
    print(f"Wrote {out.relative_to(ROOT)}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
