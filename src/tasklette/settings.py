"""One typed table of settings, read from TASKLETTE_* variables and CLI flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasklette.numbers import parse_int


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_positive_int(raw: str) -> int:
    value = parse_int(raw.strip())
    if value < 1:
        raise ValueError(f"expected a whole number of at least 1, got {raw!r}")
    return value


def _parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected a whole number of at least 0, got {raw!r}")
    return value


def _parse_event_loop(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"asyncio", "uvloop"}:
        raise ValueError("expected asyncio or uvloop")
    return value


def _parse_log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"text", "json"}:
        raise ValueError("expected text or json")
    return value


def _parse_blob_store(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"local", "s3"}:
        raise ValueError("expected local or s3")
    return value


def _parse_endpoint_url(raw: str) -> str:
    value = raw.strip()
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {raw!r}")
    return value


def _parse_addressing_style(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"auto", "path", "virtual"}:
        raise ValueError("expected auto, path or virtual")
    return value


def _parse_synchronous(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"FULL", "NORMAL", "EXTRA"}:
        raise ValueError("expected FULL, NORMAL or EXTRA")
    return value


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return "TASKLETTE_" + self.name.upper()


SETTINGS_TABLE: tuple[Setting, ...] = (
    Setting("data_dir", Path, Path("tasklette-data"),
            "Directory holding the SQLite database and uploaded files; created on first run."),
    Setting("database_url", str, "",
            "PostgreSQL URL (postgresql://user:pass@host/db) to use instead of SQLite in the "
            "data directory.", secret=True),
    Setting("database_pool_size", _parse_positive_int, 20,
            "Most PostgreSQL connections one process opens."),
    Setting("database_acquire_timeout_ms", _parse_positive_int, 10_000,
            "How long a request waits for a free PostgreSQL connection before it is "
            "answered 503 (try again)."),
    Setting("host", str, "127.0.0.1", "Address `tasklette serve` listens on."),
    Setting("port", _parse_positive_int, 8000, "TCP port `tasklette serve` listens on."),
    Setting("workers", _parse_positive_int, 1,
            "Number of server processes `tasklette serve` starts (more than one needs "
            "PostgreSQL)."),
    Setting("log_level", str, "info", "Server log level: debug, info, warning or error."),
    Setting("log_format", _parse_log_format, "text",
            "Log lines as `text` or as `json` (one object per line, with the request id)."),
    Setting("event_loop", _parse_event_loop, "asyncio",
            "Event loop of the server: asyncio, or uvloop. Measured here, asyncio served "
            "as many requests with far shorter worst-case waits under load."),
    Setting("access_log", _parse_bool, False,
            "Log every request (a reverse proxy usually does this already)."),
    Setting("sqlite_synchronous", _parse_synchronous, "FULL",
            "SQLite `synchronous` pragma. FULL makes every acknowledged write survive a power "
            "loss; commits are grouped so this costs little throughput."),
    Setting("sqlite_busy_timeout_ms", _parse_positive_int, 5000,
            "How long a SQLite connection waits for a lock held by another process."),
    Setting("allow_signup", _parse_bool, False,
            "Let anyone who can reach the server create an account at /signup."),
    Setting("session_idle_minutes", _parse_positive_int, 20160,
            "A browser session ends after this many minutes without a request (14 days)."),
    Setting("purge_interval_seconds", _parse_positive_int, 3600,
            "How often the server deletes ended sessions and old sign-in failure counts "
            "(`tasklette sessions purge` does it at once)."),
    Setting("max_json_body_bytes", _parse_positive_int, 1_048_576,
            "Largest JSON request body the API accepts; larger ones get 413."),
    # --- attachments ---
    Setting("attachment_max_file_bytes", _parse_positive_int, 1_073_741_824,
            "Largest file an upload may hold (1 GiB); a larger one is refused with 413 as "
            "soon as it passes the limit."),
    Setting("attachment_max_request_bytes", _parse_positive_int, 2_147_483_648,
            "Largest upload request, all its files together (2 GiB); refused with 413 "
            "before reading when its declared length is larger."),
    Setting("attachment_max_parts", _parse_positive_int, 32,
            "Most parts (files and fields) one upload request may have; more get 400."),
    Setting("blob_grace_seconds", _parse_non_negative_int, 300,
            "How long the file of a deleted attachment (or task, or project) is kept, for "
            "downloads under way, before it is removed (if no other attachment has the "
            "same bytes)."),
    Setting("blob_store", _parse_blob_store, "local",
            "Where attachments' files are kept: `local` (in the data directory) or `s3` (an "
            "S3-compatible bucket, which several servers can share)."),
    Setting("s3_endpoint_url", _parse_endpoint_url, "",
            "URL of the S3-compatible server (e.g. http://127.0.0.1:9000); empty for AWS S3."),
    Setting("s3_bucket", str, "", "Bucket holding the files; required with blob_store=s3."),
    Setting("s3_prefix", str, "",
            "Key prefix in the bucket (e.g. `tasklette/`), to share a bucket with other data."),
    Setting("s3_region", str, "us-east-1", "Region of the bucket (signs the requests)."),
    Setting("s3_access_key_id", str, "",
            "Access key for the bucket; empty to find credentials as the AWS SDKs do (AWS_* "
            "variables, ~/.aws, an instance or task role)."),
    Setting("s3_secret_access_key", str, "", "Secret of the access key.", secret=True),
    Setting("s3_addressing_style", _parse_addressing_style, "auto",
            "How the bucket is named in URLs: `path` (most self-hosted servers), `virtual` "
            "(bucket.host) or `auto`."),
    Setting("s3_max_connections", _parse_positive_int, 100,
            "Most connections one process opens to the S3 server; each download in progress "
            "holds one."),
    Setting("stream_heartbeat_seconds", _parse_positive_int, 15,
            "Seconds between heartbeats on an idle event stream (keeps proxies from closing "
            "it; membership is checked again at each)."),
    Setting("stream_queue_limit", _parse_positive_int, 1000,
            "Events a live subscriber may fall behind before it is dropped (it reconnects "
            "and replays what it missed)."),
    Setting("markdown_cache_bytes", _parse_positive_int, 16_777_216,
            "Memory kept for rendered Markdown (descriptions and comments), in bytes (16 "
            "MiB); the least recently shown go first."),
    # --- jobs ---
    Setting("job_concurrency", _parse_positive_int, 4,
            "Jobs (notifications, e-mail, webhooks) one process runs at the same time, in "
            "`tasklette serve` and in each `tasklette worker`."),
    Setting("job_lease_seconds", _parse_positive_int, 60,
            "How long a worker holds a job it runs before another may take it over; kept "
            "extended while the job runs, so this is how soon the job of a worker that died "
            "runs again."),
    # --- import ---
    Setting("max_import_bytes", _parse_positive_int, 52_428_800,
            "Largest file an import (Trello, Todoist, Tasklette export) may be, through the "
            "web page or the API (50 MiB); larger ones get 413."),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS_TABLE}


@dataclass(frozen=True)
class Settings:
    """The effective, validated settings of one Tasklette instance."""

    data_dir: Path = Path("tasklette-data")
    database_url: str = ""
    database_pool_size: int = 20
    database_acquire_timeout_ms: int = 10_000
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    log_format: str = "text"
    event_loop: str = "asyncio"
    access_log: bool = False
    sqlite_synchronous: str = "FULL"
    sqlite_busy_timeout_ms: int = 5000
    allow_signup: bool = False
    session_idle_minutes: int = 20160
    purge_interval_seconds: int = 3600
    max_json_body_bytes: int = 1_048_576
    attachment_max_file_bytes: int = 1_073_741_824
    attachment_max_request_bytes: int = 2_147_483_648
    attachment_max_parts: int = 32
    blob_grace_seconds: int = 300
    blob_store: str = "local"
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_addressing_style: str = "auto"
    s3_max_connections: int = 100
    stream_heartbeat_seconds: int = 15
    stream_queue_limit: int = 1000
    max_import_bytes: int = 52_428_800
    job_concurrency: int = 4
    job_lease_seconds: int = 60
    markdown_cache_bytes: int = 16_777_216

    def __post_init__(self) -> None:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise SettingsError("TASKLETTE_BLOB_STORE=s3 needs a bucket: set "
                                "TASKLETTE_S3_BUCKET")
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            raise SettingsError("TASKLETTE_S3_ACCESS_KEY_ID and TASKLETTE_S3_SECRET_ACCESS_KEY "
                                "go together: set both, or neither")

    @property
    def database_path(self) -> Path:
        return self.data_dir / "tasklette.db"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def describe(self) -> list[tuple[str, str, str]]:
        """Return (name, environment variable, printable value) rows, secrets masked."""
        rows = []
        for setting in SETTINGS_TABLE:
            value = getattr(self, setting.name)
            shown = ("********" if value else "(unset)") if setting.secret else str(value)
            rows.append((setting.name, setting.env_var, shown))
        return rows


def load_settings(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build settings from defaults, then TASKLETTE_* variables, then explicit overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS_TABLE:
        raw = environ.get(setting.env_var)
        if raw is None:
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{setting.env_var}: {exc}") from None
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in _BY_NAME:
            raise SettingsError(f"unknown setting {name!r}")
        setting = _BY_NAME[name]
        if isinstance(value, str) and setting.parse is not str:
            try:
                value = setting.parse(value)
            except ValueError as exc:
                raise SettingsError(f"--{name.replace('_', '-')}: {exc}") from None
        values[name] = value
    return Settings(**values)
