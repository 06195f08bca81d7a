"""``modeldepot serve --workers N``: N processes serve one port, as one registry."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modeldepot.server.workers import MIN_LIFETIME_SECONDS
from tests.e2e.conftest import ServerProcess, new_server, unique_name
from tests.scratch import scratch_database

pytestmark = pytest.mark.e2e


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def test_workers_share_the_port_and_stop_cleanly(database_url: str, tmp_path: Path) -> None:
    # A database of its own: the audit chain two workers write must verify whole.
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with scratch_database(backend, tmp_path) as url:
        server = new_server(tmp_path / "workers", url)
        server.args += ["--workers", "2"]
        _share_the_port_and_stop_cleanly(server)


def _share_the_port_and_stop_cleanly(server: ServerProcess) -> None:
    server.start()
    try:
        assert server.proc is not None
        workers = children(server.proc.pid)
        assert len(workers) == 2
        headers = server.auth
        name = unique_name("workers")
        digest = "sha256:fa2c8cc4f28176bbeed4b736df569a34c79cd3723e9ec42f9674b4d46ac6b8b8"
        with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers) as http:
            put = http.put(f"/blobs/{digest}", content=b"blob", params={"model": name})
            assert put.status_code == 201, put.text

            def commit(i: int) -> int:
                body = {"files": [{"path": "w.bin", "size": 4, "digest": digest}]}
                with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers) as own:
                    response = own.post(f"/models/{name}/-/versions", json=body)
                assert response.status_code == 201, response.text
                return int(response.json()["number"])

            with ThreadPoolExecutor(8) as pool:
                numbers = sorted(pool.map(commit, range(40)))
            assert numbers == list(range(1, 41))
            query = {"action": "version.create", "model": name, "limit": 100}
            log = http.get("/audit", params=query).json()
            assert len(log["items"]) == 40
            assert http.get("/audit/verify").json()["ok"] is True
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived the server"
            time.sleep(0.05)
    finally:
        server.close()


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    server = new_server(tmp_path / "respawn", None)
    server.args += ["--workers", "2"]
    server.start()
    try:
        assert server.proc is not None
        first = children(server.proc.pid)
        # A worker that has served for a while and dies is started again.
        time.sleep(MIN_LIFETIME_SECONDS + 0.5)
        signal_target = first[0]
        os.kill(signal_target, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            now = children(server.proc.pid)
            if len(now) == 2 and signal_target not in now:
                break
            assert time.monotonic() < deadline, f"not replaced: {now}"
            time.sleep(0.1)
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.close()


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    server = new_server(tmp_path / "orphans", None)
    server.args += ["--workers", "2"]
    server.start()
    try:
        assert server.proc is not None
        workers = children(server.proc.pid)
        server.kill()  # SIGKILL: the supervisor cannot pass anything on
        deadline = time.monotonic() + 35
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived its supervisor"
            time.sleep(0.1)
    finally:
        server.close()
