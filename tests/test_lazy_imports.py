"""A started server on SQLite has not imported what only some requests need.

Each of these is imported by the first request that needs it (idle memory,
bench/idle_rss_bench.py): the PostgreSQL driver, the calendar feed's iCalendar
library, the Markdown renderer and sanitiser, the multipart parser, the S3 client.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAZY = {"asyncpg", "icalendar", "markdown_it", "nh3", "streaming_form_data", "smart_open",
        "aiobotocore", "botocore"}

STARTED = """
import asyncio, sys
from pathlib import Path
import tasklette.cli
from tasklette.app import create_app
from tasklette.settings import load_settings

app = create_app(load_settings({{}}, data_dir=Path({data_dir!r})))

async def main():
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.3)
    print(" ".join(sorted({lazy!r} & set(sys.modules))))

asyncio.run(main())
"""


def test_a_started_sqlite_server_has_not_imported_what_few_requests_need(
        tmp_path: Path) -> None:
    code = STARTED.format(data_dir=str(tmp_path / "data"), lazy=LAZY)
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60).stdout.strip()
    assert shown == ""
