"""Garbage collection never races a push: every staged byte has an owner gc can see.

A stress test: pushes that share blobs (single-request uploads and resumable sessions)
run for a few seconds beside ``gc --grace 0`` in a loop, on each database. No push
fails, no upload request is refused (404 or 5xx), the collector never crashes, and
every version's blobs are present and match their digests.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from modeldepot.client.client import Client
from modeldepot.client.push import COMMIT_ATTEMPTS
from modeldepot.digest import digest_bytes
from modeldepot.security.context import Context
from tests.conftest import make_model_dir

OPERATOR = Context.system("gc")
SECONDS = 3.0
# Between two collections: ten a second, far more often than `modeldepot gc` can run
# (its start alone takes longer). Back to back, a collection with no grace period would
# always fall between a blob's upload and the commit that claims it, which is the
# operator's choice of grace period at work, not a race; clients send such a blob again.
PAUSE = 0.1
PUSHERS = 4
SHARED = [f"shared weights {i}".encode() * 1000 for i in range(3)]
UPLOAD_ROUTES = ("/api/v1/blobs/{digest}", "/api/v1/uploads", "/api/v1/uploads/{upload_id}")


def _refused_uploads(live) -> float:
    """Upload requests answered 404 or 5xx so far by the live app."""
    registry = live.app.state.metrics.registry
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name != "modeldepot_http_requests_total":
                continue
            status = sample.labels["status"]
            if sample.labels["route"] in UPLOAD_ROUTES and (status == "404" or status[0] == "5"):
                total += sample.value
    return total


def _session_push(url: str, token: str, name: str, data: bytes) -> None:
    """A push through a resumable session, as a client of the wire protocol does it:
    a commit that finds its blob collected meanwhile (grace 0) sends it again."""
    digest = digest_bytes(data)
    files = [{"path": "w.bin", "size": len(data), "digest": digest}]
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30, headers=auth) as http:
        for _ in range(COMMIT_ATTEMPTS):
            missing = http.post("/blobs/missing", json={"digests": [digest]})
            missing.raise_for_status()
            if missing.json()["missing"]:
                body = {"digest": digest, "size": len(data), "model": name}
                session = http.post("/uploads", json=body)
                session.raise_for_status()
                upload_id = session.json()["id"]
                http.patch(
                    f"/uploads/{upload_id}",
                    content=data,
                    headers={"Upload-Offset": "0", "Content-Type": "application/octet-stream"},
                ).raise_for_status()
                http.post(f"/uploads/{upload_id}/complete").raise_for_status()
            committed = http.post(f"/models/{name}/-/versions", json={"files": files})
            if committed.status_code != 404 or committed.json()["code"] != "BLOB_UNKNOWN":
                committed.raise_for_status()
                return
        committed.raise_for_status()


def test_gc_in_a_loop_beside_pushes_sharing_blobs_loses_nothing(
    live, registry, admin_token: str, tmp_path: Path
) -> None:
    refused_before = _refused_uploads(live)
    stop = time.monotonic() + SECONDS
    gc_errors: list[BaseException] = []
    collections = [0]

    def collect() -> None:
        while time.monotonic() < stop:
            try:
                registry.gc.collect(OPERATOR, grace_seconds=0)
                collections[0] += 1
            except Exception as exc:  # counted, not raised: the test reports them all
                gc_errors.append(exc)
            time.sleep(PAUSE)

    def pusher(worker: int) -> tuple[int, list[BaseException]]:
        done, failures = 0, []
        cache = tmp_path / f"cache{worker}"
        with Client(live.url, cache_dir=cache, token=admin_token) as md:
            while time.monotonic() < stop:
                source = make_model_dir(
                    tmp_path / f"w{worker}-{done}",
                    {"shared.bin": SHARED[done % len(SHARED)], "own.bin": os.urandom(3000)},
                )
                try:
                    if worker == 0:
                        _session_push(live.url, admin_token, f"race/s{worker}", os.urandom(5000))
                    else:
                        # No capture: its git subprocesses, forked from this process
                        # (which also runs the server), would inherit the staged files'
                        # locks for an instant and make uploads busy (UPLOAD_BUSY).
                        md.push(source, f"race/m{worker}", capture=False)
                except Exception as exc:
                    failures.append(exc)
                done += 1
        return done, failures

    collector = threading.Thread(target=collect)
    collector.start()
    with ThreadPoolExecutor(PUSHERS) as pool:
        results = list(pool.map(pusher, range(PUSHERS)))
    collector.join()

    pushes = sum(done for done, _ in results)
    failures = [f for _, fs in results for f in fs]
    refused = _refused_uploads(live) - refused_before
    figures = (
        f"{pushes} pushes, {len(failures)} failed; {refused:.0f} upload requests refused; "
        f"{collections[0]} collections, {len(gc_errors)} crashed"
    )
    print(figures)
    assert pushes >= 8 and collections[0] >= 5, figures
    assert failures == [] and gc_errors == [] and refused == 0, (
        f"{figures}: {[*failures, *gc_errors][:3]}"
    )
    with registry.db.read() as conn:
        digests = set(conn.exec_driver_sql("SELECT DISTINCT digest FROM version_files").scalars())
    for digest in digests:
        hasher = hashlib.sha256()
        for chunk in registry.store.read(digest):
            hasher.update(chunk)
        assert f"sha256:{hasher.hexdigest()}" == digest
