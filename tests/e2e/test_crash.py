"""Crash safety with a real server process: SIGKILL mid-upload, mid-commit, between pushes.

Each test makes the fault really happen (the kill lands while bytes are in flight or
while the commit's transaction is open) and then checks what survived the crash.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from modeldepot.client import upload as upload_mod
from modeldepot.client.client import Client
from modeldepot.db.tables import models, version_files, versions
from modeldepot.digest import CHUNK_SIZE
from tests.e2e.conftest import (
    ServerProcess,
    make_cli,
    ok,
    received_bytes,
    server_token,
    tree,
    unique_files,
    unique_name,
)

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
# Large enough that the SDK uses a resumable upload session, as a real model file would.
BIG = upload_mod.SESSION_THRESHOLD + 4096


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def api(server: ServerProcess) -> httpx.Client:
    """The server's API, as its admin."""
    return httpx.Client(base_url=f"{server.url}/api/v1", timeout=30, headers=server.auth)


def wait_for(condition: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def write_transaction_open(database_url: str) -> bool:
    """Whether some other connection holds a write transaction open on the database."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                query = (
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                )
                return bool(conn.exec_driver_sql(query).scalar())
            conn.exec_driver_sql("PRAGMA busy_timeout = 0")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except sa.exc.OperationalError:
                return True  # database is locked: a writer is inside its transaction
            conn.exec_driver_sql("ROLLBACK")
            return False
    finally:
        engine.dispose()


def staged_bytes(data_dir: Path) -> int:
    """Bytes the server has written to its upload staging area."""
    return sum(p.stat().st_size for p in (data_dir / "blobs" / "uploads").iterdir())


def test_upload_killed_mid_patch_resumes_from_the_offset_the_server_kept(
    start_server, tmp_path: Path
) -> None:
    server = start_server()
    name = unique_name("crash", "upload")
    data = os.urandom(BIG)
    digest = sha256(data)
    with api(server) as http:
        upload = http.post("/uploads", json={"digest": digest, "size": len(data)}).json()
    upload_id = upload["id"]

    sent = 0  # bytes handed to the connection before the kill
    pause, paused, killed = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def slow_body():
        nonlocal sent
        for start in range(0, len(data), MiB):
            # Never finish before the kill: the point is an upload cut short.
            if pause.is_set() or start >= len(data) // 2:
                paused.set()
                killed.wait(30)
            chunk = data[start : start + MiB]
            if not killed.is_set():
                sent += len(chunk)
                time.sleep(0.01)
            # After the kill, keep writing until the dead connection refuses.
            yield chunk

    def patch() -> None:
        try:
            with api(server) as http:
                outcome["response"] = http.patch(
                    f"/uploads/{upload_id}",
                    content=slow_body(),
                    headers={
                        "Upload-Offset": "0",
                        "Content-Length": str(len(data)),
                        "Content-Type": "application/octet-stream",
                    },
                )
        except Exception as exc:  # reported by the test, not lost in the thread
            outcome["error"] = exc

    thread = threading.Thread(target=patch, daemon=True)
    thread.start()
    with api(server) as http:
        seen = wait_for(
            lambda: (o := http.get(f"/uploads/{upload_id}").json()["offset"]) >= 8 * MiB and o,
            "the server to store 8 MiB",
        )
    pause.set()
    assert paused.wait(10)
    server.kill()
    killed.set()
    thread.join(30)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), httpx.TransportError), (
        f"the PATCH was not cut by the kill: {outcome}"
    )
    assert sent < len(data)

    server.restart()
    with api(server) as http:
        state = http.get(f"/uploads/{upload_id}").json()
        assert seen <= state["offset"] <= sent
        assert state["complete"] is False
        # Nothing of the interrupted upload is visible as a blob or a version.
        assert http.post("/blobs/missing", json={"digests": [digest]}).json() == {
            "missing": [digest]
        }
        assert http.get(f"/blobs/{digest}").status_code == 404
        gone = http.get("/resolve", params={"ref": name})
        assert (gone.status_code, gone.json()["code"]) == (404, "MODEL_NOT_FOUND")

        offset = state["offset"]
        resumed = http.patch(
            f"/uploads/{upload_id}",
            content=data[offset:],
            headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"},
        )
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["offset"] == len(data)
        done = http.post(f"/uploads/{upload_id}/complete")
        assert done.status_code == 200, done.text
        assert done.json()["complete"] is True
        created = http.post(
            f"/models/{name}/-/versions",
            json={"files": [{"path": "weights.bin", "size": len(data), "digest": digest}]},
        )
        assert created.status_code == 201, created.text
        assert created.json()["number"] == 1

    with Client(server.url, cache_dir=tmp_path / "cache", token=server_token(server)) as md:
        md.pull(f"{name}:1", tmp_path / "pulled")
        assert (tmp_path / "pulled" / "weights.bin").read_bytes() == data
        # The SDK's push of the same content finds the blob stored and sends no bytes.
        source = tmp_path / "source"
        source.mkdir()
        (source / "weights.bin").write_bytes(data)
        again = md.push(source, name)
        assert (again.number, again.digest) == (2, created.json()["digest"])


class KillSwitch:
    """Progress that throttles the upload, and holds it once enough was sent until the
    test has killed the server."""

    def __init__(self, hold_after: int) -> None:
        self.hold_after = hold_after
        self.phase = ""
        self.sent = 0
        self.holding = threading.Event()
        self.killed = threading.Event()
        self.lock = threading.Lock()

    def begin(self, phase: str, total: int) -> None:
        self.phase = phase

    def advance(self, n: int) -> None:
        if self.phase != "push" or n <= 0:
            return
        with self.lock:
            if self.killed.is_set():
                return
            self.sent += n
            hold = self.sent >= self.hold_after
        if hold:
            self.holding.set()
            self.killed.wait(30)
        else:
            time.sleep(0.005)

    def skip(self, n: int) -> None:
        pass

    def end(self) -> None:
        pass


def test_sdk_push_killed_mid_upload_resumes_after_restart(
    start_server, tmp_path: Path, streamed: list[str]
) -> None:
    """The weights are new, so they are streamed: the digest the resumed session is
    completed with comes from the hash computed while the first bytes went up."""
    server = start_server()
    name = unique_name("crash", "push")
    data = os.urandom(BIG)
    source = tmp_path / "model"
    source.mkdir()
    (source / "weights.bin").write_bytes(data)
    (source / "config.json").write_bytes(os.urandom(64).hex().encode())
    switch = KillSwitch(hold_after=24 * MiB)
    outcome: dict[str, Any] = {}

    def push() -> None:
        with Client(server.url, cache_dir=tmp_path / "cache", token=server_token(server)) as md:
            try:
                outcome["version"] = md.push(source, name, progress=switch)
            except Exception as exc:
                outcome["error"] = exc

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    assert switch.holding.wait(30), "the upload never reached 24 MiB"
    kept = wait_for(lambda: (n := staged_bytes(server.data_dir)) >= 8 * MiB and n, "8 MiB staged")
    server.kill()
    switch.killed.set()
    server.restart()
    thread.join(60)
    assert not thread.is_alive()
    assert "error" not in outcome, f"push failed after restart: {outcome['error']!r}"
    version = outcome["version"]
    assert version.number == 1 and streamed == ["weights.bin"]
    # It continued where the server stopped instead of sending everything again. (The
    # restarted server counts what it received; the client's own count would include
    # bytes it took back, as when it tries a broken kept-alive connection once more.)
    resent = received_bytes(server, "PATCH", "/api/v1/uploads/{upload_id}")
    assert 0 < resent <= BIG - kept + CHUNK_SIZE
    with Client(server.url, cache_dir=tmp_path / "cache2", token=server_token(server)) as md:
        md.pull(name, tmp_path / "pulled")
    assert tree(tmp_path / "pulled") == tree(source)


def test_commit_killed_before_db_commit_leaves_no_trace_and_push_retries(
    start_server, database_url: str, tmp_path: Path
) -> None:
    server = start_server(failpoints="commit.before_db_commit=30")
    name = unique_name("crash", "commit")
    files = unique_files(tmp_path / "model")
    entries = [{"path": p, "size": len(b), "digest": sha256(b)} for p, b in files.items()]
    with api(server) as http:
        for path, body in files.items():
            put = http.put(f"/blobs/{sha256(body)}", content=body)
            assert put.status_code == 201, (path, put.text)

    outcome: dict[str, Any] = {}

    def commit() -> None:
        try:
            with api(server) as http:
                outcome["response"] = http.post(
                    f"/models/{name}/-/versions",
                    json={"files": entries, "tags": {"stage": "crash"}, "metrics": {"auc": 0.5}},
                )
        except Exception as exc:  # reported by the test, not lost in the thread
            outcome["error"] = exc

    assert not write_transaction_open(database_url)
    thread = threading.Thread(target=commit, daemon=True)
    thread.start()
    wait_for(lambda: write_transaction_open(database_url), "the commit's open transaction")
    time.sleep(0.5)
    # Without the failpoint the commit answers in milliseconds: it is parked in it now,
    # every row inserted, the transaction open.
    assert thread.is_alive(), f"the commit did not stop at the failpoint: {outcome}"
    server.kill()
    thread.join(10)
    assert isinstance(outcome.get("error"), httpx.TransportError), (
        f"the commit was answered despite the kill: {outcome}"
    )

    server.restart()
    with api(server) as http:
        resolved = http.get("/resolve", params={"ref": name})
        assert resolved.status_code == 404
        assert resolved.json()["code"] in ("MODEL_NOT_FOUND", "VERSION_NOT_FOUND")
        listed = http.get(f"/models/{name}/-/versions")
        assert listed.status_code == 404 or listed.json()["items"] == []
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            model_ids = conn.execute(sa.select(models.c.id).where(models.c.name == name)).all()
            version_rows = conn.execute(
                sa.select(versions.c.id).join(models).where(models.c.name == name)
            ).all()
            file_rows = conn.execute(
                sa.select(version_files.c.path).where(
                    version_files.c.digest.in_([e["digest"] for e in entries])
                )
            ).all()
    finally:
        engine.dispose()
    assert (model_ids, version_rows, file_rows) == ([], [], [])

    with Client(server.url, cache_dir=tmp_path / "cache", token=server_token(server)) as md:
        version = md.push(tmp_path / "model", name, tags={"stage": "retry"})
        assert (version.number, version.tags) == (1, {"stage": "retry"})
        md.pull(f"{name}:1", tmp_path / "pulled")
    assert tree(tmp_path / "pulled") == files


def test_cli_push_survives_server_restart_between_runs(start_server, tmp_path: Path) -> None:
    server = start_server()
    cli = make_cli(tmp_path, server)
    name = unique_name("crash", "cli")
    first = unique_files(tmp_path / "v1")
    ok(cli("push", "v1", name, "-q"))
    server.stop()
    server.restart()
    unique_files(tmp_path / "v2")
    assert ok(cli("push", "v2", name, "-q")).startswith(f"pushed {name}:2 ")
    with Client(server.url, cache_dir=tmp_path / "cache", token=server_token(server)) as md:
        assert [v.number for v in md.list_versions(name)] == [2, 1]
        md.pull(f"{name}:1", tmp_path / "out")
    assert tree(tmp_path / "out") == first


def test_cli_push_to_killed_server_fails_with_one_line_error(
    start_local_server, tmp_path: Path
) -> None:
    server = start_local_server()
    cli = make_cli(tmp_path, server)
    unique_files(tmp_path / "model")
    server.kill()
    started = time.monotonic()
    result = cli("push", "model", unique_name("crash", "dead"))
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("modeldepot: error: SERVER_UNREACHABLE: "), lines[0]
    assert server.url in lines[0]
    # The client retries with backoff, but gives up in bounded time.
    assert elapsed < 30, f"push took {elapsed:.1f} s to give up"
