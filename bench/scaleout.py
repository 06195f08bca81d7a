"""Scale-out figures: presigned transfers against proxied ones and the local store, and
version creates with one and with two replicas on PostgreSQL.

    python -m bench.scaleout [--size-mib 1024] [--clients 32] [--seconds 5]
                             [--database-url postgresql+psycopg://postgres@127.0.0.1/test]

Prints one JSON document:

- ``transfers``: push and pull of one file of ``--size-mib`` MiB, for the local store,
  the S3 store with presigned transfers (bytes go client <-> store), and the S3 store
  with the client relaying through the server (``use_presigned_urls`` off); with the
  server's CPU seconds and peak RSS during the push and the pull, and the blob bytes
  the server received and sent (from its own ``/metrics``).
- ``metadata``: version creates per second and p99 with ``--clients`` concurrent wrk
  connections, against one replica, then split over two replicas on one PostgreSQL
  database (a fresh one is created next to the one in ``--database-url``); once spread
  over as many models as clients, once all on one model.

The S3 service is moto's server: one Python process keeping objects in memory. It is
the only S3-compatible server that runs here offline, and it is much slower than S3 or
MinIO, so the presigned figures measure moto as much as modeldepot. The server-side
figures (CPU, RSS, bytes relayed) do not depend on it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.metadata import wrk
from bench.server import BenchServer
from bench.transfer import MIB, timed, write_random
from modeldepot.client.client import Client
from modeldepot.digest import digest_bytes

BLOB_ROUTES = ("/api/v1/blobs/{digest}", "/api/v1/uploads/{upload_id}")


def blob_bytes(server: BenchServer) -> dict[str, int]:
    """Blob bytes the server received and sent so far, from its Prometheus metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    totals = {"received": 0, "sent": 0}
    pattern = r'^modeldepot_http_(received|sent)_bytes_total\{[^}]*route="([^"]+)"[^}]*\} (\S+)$'
    for kind, route, value in re.findall(pattern, text, re.M):
        if route in BLOB_ROUTES:
            totals[kind] += int(float(value))
    return totals


def during(server: BenchServer, action: Callable[[], Any]) -> dict[str, float]:
    """Seconds ``action`` takes, and the server's CPU seconds, peak RSS and blob bytes."""
    before_bytes, before_cpu = blob_bytes(server), server.cpu_seconds()
    server.start_sampling()
    seconds = timed(action)
    peak = server.stop_sampling()
    after_bytes = blob_bytes(server)
    return {
        "seconds": round(seconds, 3),
        "server_cpu_s": round(server.cpu_seconds() - before_cpu, 2),
        "server_peak_rss_mb": round(peak / 1e6, 1),
        "server_blob_bytes_received": after_bytes["received"] - before_bytes["received"],
        "server_blob_bytes_sent": after_bytes["sent"] - before_bytes["sent"],
    }


def transfer(server: BenchServer, source: Path, work: Path, presigned: bool) -> dict[str, Any]:
    size = sum(f.stat().st_size for f in source.rglob("*") if f.is_file())
    out = work / f"out-{uuid.uuid4().hex[:6]}"
    with Client(server.url, cache_dir=work / f"cache-{uuid.uuid4().hex[:6]}") as md:
        md.http.presigned = presigned
        name = f"bench/scale-{uuid.uuid4().hex[:8]}"
        push = during(server, lambda: md.push(source, name))
        pull = during(server, lambda: md.pull(name, out, use_cache=False))
    shutil.rmtree(out, ignore_errors=True)
    for figures in (push, pull):
        figures["mb_s"] = round(size / 1e6 / figures["seconds"], 1)
    return {"push": push, "pull": pull}


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "MODELDEPOT_BLOBSTORE": "s3",
        "MODELDEPOT_S3_BUCKET": bucket,
        "MODELDEPOT_S3_PREFIX": f"bench-{uuid.uuid4().hex[:8]}/",
        "MODELDEPOT_S3_ENDPOINT_URL": endpoint,
        "MODELDEPOT_S3_REGION": "us-east-1",
    }


def transfers(work: Path, size_mib: int, endpoint: str, bucket: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for label, env, presigned in (
        ("local_store", {}, False),
        ("s3_presigned", s3_env(endpoint, bucket), True),
        ("s3_proxied", s3_env(endpoint, bucket), False),
    ):
        source = work / f"model-{label}"
        write_random(source / "model.bin", size_mib * MIB)  # new bytes: nothing dedups
        server = BenchServer(work / f"data-{label}", env=env)
        try:
            results[label] = transfer(server, source, work, presigned)
        finally:
            server.stop()
        shutil.rmtree(source)
    return results


def wrk_script(work: Path, digest: str, models: int) -> Path:
    body = json.dumps({"files": [{"path": "w.bin", "size": 4, "digest": digest}]})
    script = work / f"create-{models}.lua"
    script.write_text(
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        f'  local path = "/api/v1/models/bench/scale-" .. (n % {models}) .. "/-/versions"\n'
        f'  return wrk.format("POST", path, {{["Content-Type"] = "application/json"}}, '
        f"{json.dumps(body)})\n"
        "end\n"
    )
    return script


def parallel_wrk(urls: list[str], connections: int, script: Path) -> dict[str, float]:
    """wrk against each URL at once, connections split evenly; summed rate, worst p99."""
    share = max(1, connections // len(urls))
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        figures = list(pool.map(lambda url: wrk(url, share, script), urls))
    return {
        "per_second": round(sum(f["per_second"] for f in figures), 1),
        "p99_ms": max(f["p99_ms"] for f in figures),
    }


def metadata(work: Path, database_url: str, clients: int, endpoint: str, bucket: str) -> dict:
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    name = f"modeldepot_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(database_url).set(database=name).render_as_string(hide_password=False)
    env = s3_env(endpoint, bucket)
    servers: list[BenchServer] = []
    try:
        servers.append(BenchServer(work / "replica-a", url, env=env))  # migrates
        servers.append(BenchServer(work / "replica-b", url, env=env))
        digest = digest_bytes(b"blob")
        httpx.put(f"{servers[0].url}/api/v1/blobs/{digest}", content=b"blob").raise_for_status()
        results: dict[str, Any] = {"clients": clients}
        for models, label in ((clients, f"{clients}_models"), (1, "one_model")):
            script = wrk_script(work, digest, models)
            results[label] = {
                "one_replica": parallel_wrk([servers[0].url], clients, script),
                "two_replicas": parallel_wrk([s.url for s in servers], clients, script),
            }
        return results
    finally:
        for server in servers:
            server.stop()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    import os

    from tests.s3server import MotoServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="md-scaleout-"))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        with MotoServer(work / "moto.log") as endpoint:
            import boto3

            bucket = "modeldepot-bench"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
            started = time.time()
            results = {
                "s3_service": "moto server (in-memory, one Python process)",
                "transfers": transfers(work, args.size_mib, endpoint, bucket),
            }
            if shutil.which("wrk"):
                results["metadata"] = metadata(
                    work, args.database_url, args.clients, endpoint, bucket
                )
            results["seconds"] = round(time.time() - started, 1)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
