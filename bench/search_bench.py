"""Search benchmark: full-text search over 50,000 tasks through the real server, next to a
plain indexed lookup through the same server in the same run.

    uv run python bench/search_bench.py [--tasks 50000] [--runs 100] [--database URL]

What one run does (about a minute with the defaults):

1. seeds a fresh data directory (or PostgreSQL database) in-process, through the
   import writer (the same triggers fill the search index as for any change): 10
   projects of --tasks/10 tasks; the searching user belongs to 8 of them (another user
   owns the other 2, so membership scoping has work to do). Titles of 3-8 words and
   descriptions of up to 60 words are drawn from 3,000 words with Zipf-like
   frequencies (a few words are on thousands of tasks, most on a handful); a third of
   the tasks have 1-3 comments, 35 % a due date, 0-2 of 6 labels, 0-2 assignees, a
   fifth are done;
2. serves it with `tasklette serve` (1 worker, default settings) and sends, one at a
   time over one keep-alive connection, --runs searches of each kind below (random
   words each time), plus --runs `GET /api/v1/tasks/{random id}` as the baseline (a
   primary-key lookup with the same authentication, hydration and JSON);
3. prints p50 and p99 per kind and over all searches, their ratio to the baseline, and
   the target (p99 < 50 ms over all searches), and writes
   bench/results/search-<UTC timestamp>.json.

Search kinds: a common word (on thousands of tasks: the worst case for ranking), a
mid-frequency word, a rare word, two words, an exact phrase, a prefix (`abc*`), a word
with filters (`is:open label:bug`), filters alone (`assignee:me due:overdue`), and a
word within one project. It is a benchmark, not a test: it exits 0 when the target is
missed, 1 only when a search failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from api_bench import (  # bench/ is on sys.path when this file is run as a script
    ROOT,
    Server,
    _free_port,
    serving,
    tasklette_argv,
    wait_for_quiet,
)
from tasklette.services.query_syntax import STOP_WORDS

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_P99_MS = 50.0
OWNER, OTHER, PASSWORD = "bench", "other", "bench-password-123"
LABELS = ("bug", "feature", "design", "docs", "infra", "customer")
# Made-up words from syllables (onset, vowel, coda): about as many different beginnings as
# English words have, so that `abc*` matches a realistic share of them.
ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
          "z", "br", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "tr", "ch", "th")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
CODAS = ("", "", "n", "r", "l", "s", "t", "m")


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """`size` words in order of frequency: English stop words first (as in real text, they
    are the most frequent), then made-up content words."""
    words = sorted(STOP_WORDS)
    rng.shuffle(words)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                       for _ in range(rng.randint(1, 3)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Text:
    """Random text with Zipf frequencies (weight 1/rank), like a natural language's."""

    def __init__(self, rng: random.Random, words: list[str]) -> None:
        self.rng, self.words = rng, words
        self.cumulative = list(itertools.accumulate(1 / (rank + 1)
                                                    for rank in range(len(words))))

    def __call__(self, low: int, high: int) -> str:
        count = self.rng.randint(low, high)
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count))


async def seed(data_dir: Path, database_url: str, n_tasks: int,
               rng: random.Random) -> dict[str, Any]:
    """Create the users and projects; return the words, ids and seconds it took."""
    from tasklette.services import tokens, users
    from tasklette.services.importing.plan import (
        Person,
        Plan,
        PlanColumn,
        PlanComment,
        PlanLabel,
        PlanTask,
    )
    from tasklette.services.importing.writer import write
    from tasklette.services.permissions import Actor
    from tasklette.settings import load_settings
    from tasklette.storage.open import connect

    started = time.perf_counter()
    words = vocabulary(rng)
    text = Text(rng, words)
    today = dt.date.today()
    settings = load_settings(environ={}, data_dir=data_dir, database_url=database_url)
    db = await connect(settings)
    try:
        rows = [await users.create(db, name, PASSWORD) for name in (OWNER, OTHER, "alice")]
        me, other = (Actor(r["id"], r["username"], r["display_name"]) for r in rows[:2])
        _, token = await tokens.create(db, me, "search-bench")
        projects: list[int] = []
        for p in range(10):
            mine = p < 8
            people = (OWNER, "alice") if mine else ("alice",)
            columns = [PlanColumn(name) for name in ("To do", "In progress", "Done")]
            plan = Plan("tasklette", f"Project {p + 1:02d}", columns=columns,
                        labels=[PlanLabel(name, name, "#e5484d") for name in LABELS],
                        members=[(name, "editor", None) for name in people])
            for n in range(n_tasks // 10):
                done = rng.random() < 0.2
                due = None
                if rng.random() < 0.35:
                    due = (today + dt.timedelta(days=rng.randint(-30, 60))).isoformat()
                task = PlanTask(
                    title=text(3, 8).capitalize() + f" #{n}", description=text(0, 60),
                    priority=rng.randint(0, 4), due_date=due, completed=done,
                    labels=rng.sample(LABELS, rng.randint(0, 2)),
                    assignees=[Person(name, name) for name in
                               rng.sample(people, rng.randint(0, len(people)))])
                if rng.random() < 0.33:
                    task.comments = [PlanComment(text(3, 30), Person(OWNER, OWNER))
                                     for _ in range(rng.randint(1, 3))]
                columns[2 if done else rng.randint(0, 1)].tasks.append(task)
            result = await write(db, me if mine else other, plan)
            projects.append(result.project_id)
        async with db.reading() as conn:
            task_ids = [int(i) for (i,) in await conn.fetchtuples(
                "SELECT t.id FROM tasks t JOIN project_members m ON m.project_id = t.project_id "
                "AND m.user_id = ?", (me.id,))]
            titles = [str(t) for (t,) in await conn.fetchtuples(
                "SELECT title FROM tasks ORDER BY id LIMIT 2000")]
    finally:
        await db.close()
    return {"words": words, "token": token, "projects": projects[:8], "task_ids": task_ids,
            "titles": titles, "seconds": time.perf_counter() - started}


def kinds(seeded: dict[str, Any], rng: random.Random) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each kind of search: a function giving the query parameters of one request."""
    stop = len(STOP_WORDS)
    content: list[str] = seeded["words"][stop:]  # by frequency, most frequent first
    words = content

    def phrase() -> str:
        title = rng.choice(seeded["titles"]).split(" #")[0].lower().split()
        i = rng.randrange(len(title) - 1)
        return f'"{title[i]} {title[i + 1]}"'

    return {
        "common word": lambda: {"q": rng.choice(words[:10])},
        "mid word": lambda: {"q": rng.choice(words[100:1000])},
        "rare word": lambda: {"q": rng.choice(words[5000:])},
        "two words": lambda: {"q": f"{rng.choice(words[:300])} {rng.choice(words[:300])}"},
        "with stop words": lambda: {"q": f"the {rng.choice(words[:100])} of it"},
        "phrase": lambda: {"q": phrase()},
        "prefix": lambda: {"q": rng.choice(words[:200])[:3] + "*"},
        "word + filters": lambda: {"q": f"{rng.choice(words[:100])} is:open label:bug"},
        "filters only": lambda: {"q": "assignee:me due:overdue"},
        "in one project": lambda: {"q": rng.choice(words[:300]),
                                   "project": rng.choice(seeded["projects"])},
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def timed(client: httpx.Client, path: str, params: dict[str, Any]) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params} answered {response.status_code}: "
                           f"{response.text[:300]}")
    body = response.json()
    return elapsed, len(body["items"]) if "items" in body else 1


def summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 99),
            "max_ms": max(times), "mean_ms": statistics.fmean(times)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=50_000, help="tasks in all (50000)")
    parser.add_argument("--runs", type=int, default=100,
                        help="requests of each kind, and of the baseline (100)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests (20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--quiet-wait", type=float, default=15,
                        help="before each kind, wait up to this many seconds for other "
                             "processes to go quiet (default 15; 0: do not wait)")
    parser.add_argument("--database", default="", help="a PostgreSQL database URL to seed "
                        "and serve instead of SQLite (its tables must not exist yet)")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="tasklette-search-bench-"))
    data_dir = work / "data"
    try:
        seeded = asyncio.run(seed(data_dir, args.database, args.tasks, rng))
        print(f"Seeded {args.tasks:,} tasks in 10 projects ({len(seeded['task_ids']):,} in the "
              f"searcher's 8) in {seeded['seconds']:.1f} s.")
        argv_ = tasklette_argv(data_dir, _free_port())
        port = int(argv_[-1])
        if args.database:
            argv_ += ["--database", args.database]
        server = Server("tasklette", argv_, port, work / "serve.log", "/healthz")
        results: dict[str, Any] = {}
        with serving(server), httpx.Client(
                base_url=server.url, timeout=30,
                headers={"authorization": f"Bearer {seeded['token']}"}) as client:
            plans = kinds(seeded, rng)
            for _ in range(args.warmup):
                timed(client, "/api/v1/search", plans["common word"]())
                timed(client, f"/api/v1/tasks/{rng.choice(seeded['task_ids'])}", {})
            wait_for_quiet(server, args.quiet_wait)
            baseline = [timed(client, f"/api/v1/tasks/{rng.choice(seeded['task_ids'])}", {})[0]
                        for _ in range(args.runs)]
            every: list[float] = []
            for name, make in plans.items():
                other_cpu = wait_for_quiet(server, args.quiet_wait)
                measured = [timed(client, "/api/v1/search", make()) for _ in range(args.runs)]
                times = [t for t, _ in measured]
                every += times
                results[name] = {**summary(times), "other_cpu_pct": other_cpu,
                                 "mean_results": statistics.fmean(n for _, n in measured)}
        base = summary(baseline)
        overall = summary(every)
        engine = "PostgreSQL" if args.database else "SQLite"
        print(f"\n{'':18}{'p50 ms':>9}{'p99 ms':>9}{'p50/base':>10}{'p99/base':>10}"
              f"{'results':>9}   ({engine}, {args.runs} requests each, over HTTP)")
        for name, row in results.items():
            print(f"{name:18}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
                  f"{row['p50_ms'] / base['p50_ms']:>9.1f}x{row['p99_ms'] / base['p99_ms']:>9.1f}x"
                  f"{row['mean_results']:>9.1f}")
        print(f"{'all searches':18}{overall['p50_ms']:>9.1f}{overall['p99_ms']:>9.1f}"
              f"{overall['p50_ms'] / base['p50_ms']:>9.1f}x"
              f"{overall['p99_ms'] / base['p99_ms']:>9.1f}x")
        print(f"{'baseline: get task':18}{base['p50_ms']:>9.1f}{base['p99_ms']:>9.1f}")
        verdict = "met" if overall["p99_ms"] < TARGET_P99_MS else "MISSED"
        print(f"\ntarget: p99 of all searches < {TARGET_P99_MS:.0f} ms: {verdict}")
        RESULTS.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"search-{stamp}.json"
        out.write_text(json.dumps({
            "tasks": args.tasks, "runs": args.runs, "engine": engine, "kinds": results,
            "all": overall, "baseline": base, "target_p99_ms": TARGET_P99_MS,
            "seed_seconds": seeded["seconds"],
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        }, indent=2))
        print(f"Wrote {out.relative_to(ROOT)}")
    finally:
        if args.keep_data:
            print(f"Data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
