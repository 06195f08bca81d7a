"""The real ``modeldepot serve`` as a deployment runs it: it refuses a schema it was not
written for, and on SIGTERM it finishes the requests in flight and exits 0."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modeldepot.db.migrate import HEAD
from tests.conftest import free_port
from tests.e2e.conftest import ServerProcess, new_server, run_modeldepot, server_env
from tests.scratch import (
    FUTURE_REVISION,
    put_schema_at,
    schema_revision,
)

pytestmark = pytest.mark.e2e

KiB = 1024


def serve(url: str, tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``modeldepot serve`` on ``url`` until it exits (it should, at once)."""
    env = server_env() | {"MODELDEPOT_DATABASE_URL": url} | settings
    data_dir = str(tmp_path / "data")
    return run_modeldepot("serve", "--port", str(free_port()), "--data-dir", data_dir, env=env)


def test_serve_refuses_an_older_schema_and_says_to_run_db_upgrade(scratch_url, tmp_path) -> None:
    put_schema_at(scratch_url, "0001")
    result = serve(scratch_url, tmp_path, MODELDEPOT_AUTO_MIGRATE="false")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"modeldepot: error: the database schema is at revision 0001, older than this "
        f"server's ({HEAD}): run `modeldepot db upgrade`"
    ]
    assert schema_revision(scratch_url) == "0001"


@pytest.mark.parametrize("auto_migrate", ["true", "false"])
def test_serve_refuses_a_newer_schema_and_says_to_upgrade_modeldepot(
    scratch_url, tmp_path, auto_migrate: str
) -> None:
    put_schema_at(scratch_url, FUTURE_REVISION)
    result = serve(scratch_url, tmp_path, MODELDEPOT_AUTO_MIGRATE=auto_migrate)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"modeldepot: error: the database schema (revision {FUTURE_REVISION}) is newer than "
        f"this server's ({HEAD}): this server is older than the database: upgrade modeldepot"
    ]
    assert schema_revision(scratch_url) == FUTURE_REVISION


def test_serve_refuses_an_unknown_log_format(tmp_path) -> None:
    result = serve(f"sqlite:///{tmp_path / 'md.db'}", tmp_path, MODELDEPOT_LOG_FORMAT="xml")
    assert result.returncode == 2
    assert "log format 'xml' is not one of text, json" in result.stderr


def test_serve_freezes_what_it_built_at_start_up(
    start_local_server: Callable[..., ServerProcess],
) -> None:
    """Start-up's objects are left out of the collector's passes, which would otherwise
    walk all of them and stall every request in flight (see ``server/heap.py``)."""
    server = start_local_server()
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    gauge = "modeldepot_gc_frozen_objects "
    frozen = [line for line in text.splitlines() if line.startswith(gauge)]
    assert len(frozen) == 1, text
    assert float(frozen[0].split()[1]) > 20_000


def test_sigterm_lets_an_upload_in_flight_finish_then_exits_0(tmp_path) -> None:
    server = new_server(tmp_path / "server", None)
    # The sweeper runs every second, so shutdown must stop it too; logs are JSON.
    server.env |= {"MODELDEPOT_CLEANUP_INTERVAL_SECONDS": "1", "MODELDEPOT_LOG_FORMAT": "json"}
    server.start()
    data = os.urandom(6 * 1024 * KiB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    api = f"{server.url}/api/v1"
    auth = server.auth
    upload_id = httpx.post(
        f"{api}/uploads", json={"digest": digest, "size": len(data)}, headers=auth
    ).json()["id"]
    halfway = threading.Event()
    outcome: dict[str, Any] = {}

    def slow_body() -> Iterator[bytes]:
        chunk = 256 * KiB
        for start in range(0, len(data), chunk):
            if start >= len(data) // 2:
                halfway.set()
            time.sleep(0.05)
            yield data[start : start + chunk]

    def patch() -> None:
        try:
            outcome["response"] = httpx.patch(
                f"{api}/uploads/{upload_id}",
                content=slow_body(),
                headers={
                    "Upload-Offset": "0",
                    "Content-Length": str(len(data)),
                    "X-Request-ID": "drained-upload",
                    **auth,
                },
                timeout=30,
            )
        except Exception as exc:  # reported by the test, not lost in the thread
            outcome["error"] = exc

    thread = threading.Thread(target=patch, daemon=True)
    thread.start()
    assert halfway.wait(20)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    thread.join(30)
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert response.status_code == 200, response.text
    assert response.json()["offset"] == len(data)
    assert server.proc.wait(30) == 0

    log = [line for line in server.log_path.read_text().splitlines() if not line.startswith("---")]
    entries = [json.loads(line) for line in log]  # every line is one JSON object
    assert not [e for e in entries if e["level"] in ("error", "critical") or "exception" in e]
    (access,) = [e for e in entries if e.get("request_id") == "drained-upload"]
    assert access["route"] == "/api/v1/uploads/{upload_id}"
    assert (access["status"], access["bytes_received"]) == (200, len(data))
    assert any(e["message"] == "Application shutdown complete." for e in entries)

    server.start()
    try:
        completed = httpx.post(f"{api}/uploads/{upload_id}/complete", headers=auth)
        assert completed.status_code == 200, completed.text
        assert httpx.get(f"{api}/blobs/{digest}", headers=auth).content == data
    finally:
        server.close()
