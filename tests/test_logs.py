"""Logs and probes: request ids, JSON log lines, /healthz and /readyz."""

from __future__ import annotations

import json
import logging
import logging.config
import sqlite3
from pathlib import Path

import httpx
import pytest

from tasklette.logs import log_config
from tests.conftest import Server


def test_every_response_carries_a_request_id_and_a_sane_one_is_kept(server: Server) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        fresh = client.get("/healthz").headers["x-request-id"]
        assert len(fresh) == 32
        assert client.get("/healthz").headers["x-request-id"] != fresh
        kept = client.get("/healthz", headers={"X-Request-ID": "lb-42.a"})
        assert kept.headers["x-request-id"] == "lb-42.a"
        hostile = client.get("/healthz", headers={"X-Request-ID": "x\" injected=1"})
        assert hostile.headers["x-request-id"] != "x\" injected=1"


def test_readyz_says_ready_with_the_schema_version(server: Server) -> None:
    response = httpx.get(server.base_url + "/readyz")
    assert response.status_code == 200
    version = server.sql("SELECT MAX(version) FROM schema_version")[0][0]
    assert response.json() == {"status": "ready", "schema_version": version}


def test_readyz_is_503_when_the_schema_is_not_this_codes(tmp_path: Path) -> None:
    server = Server(tmp_path).start()
    try:
        with sqlite3.connect(server.settings.database_path) as conn:
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (999, 'x')")
        response = httpx.get(server.base_url + "/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "tasklette migrate" in response.json()["detail"]
        assert httpx.get(server.base_url + "/healthz").status_code == 200
    finally:
        server.stop()


def test_json_log_lines_carry_the_request_id(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(log_config("info", "json"))
    try:
        server = Server(tmp_path, access_log=True).start()
        try:
            httpx.get(server.base_url + "/healthz", headers={"X-Request-ID": "req-7"})
        finally:
            server.stop()
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
                 if line.startswith("{")]
        access = [line for line in lines if line["logger"] == "tasklette.access"]
        assert access and access[0]["request_id"] == "req-7"
        assert access[0]["status"] == 200 and access[0]["path"] == "/healthz"
        assert access[0]["level"] == "INFO"
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False,
                                   "root": {"handlers": [], "level": "WARNING"}})
