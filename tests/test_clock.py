"""The stored time format: fixed width, UTC, microseconds, so text order is time order."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tasklette.clock import now_iso


def test_now_is_utc_with_microseconds_and_a_z() -> None:
    before = datetime.now(UTC)
    stamp = now_iso()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    # The format the strftime of earlier versions wrote, so old and new rows sort together.
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= parsed <= after
    assert parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == stamp
