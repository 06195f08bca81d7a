"""What one client can take from a server running with its default settings.

Prints one JSON document: upload sessions one client opens (declared as 1 TiB, 1 GiB,
then 256 GiB each), the largest declared blob size accepted, how long a request that
declares a body and sends none holds its connection, and half-sent headers theirs,
the server's resident memory with four concurrent 60 MiB JSON bodies, and the bytes a
refused ``PATCH`` (past its session's size) appends.

``--server-src DIR`` runs the server from another checkout's ``src`` (e.g. the code
before a change, from ``git archive``), to compare figures on one machine.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.server import BenchServer

MiB = 1024 * 1024
GiB = 1024 * MiB
TiB = 1024 * GiB
HOLD_CAP = 60.0  # seconds: a connection held longer counts as held "for ever"


def digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def open_sessions(api: httpx.Client, size: int, count: int) -> dict[str, Any]:
    """Open up to ``count`` sessions of ``size`` bytes; how many and how fast, then
    cancel them."""
    opened: list[str] = []
    refusal = None
    started = time.perf_counter()
    for _ in range(count):
        response = api.post("/uploads", json={"digest": digest(os.urandom(8)), "size": size})
        if response.status_code != 201:
            refusal = f"{response.status_code} {response.json().get('code')}"
            break
        opened.append(response.json()["id"])
    seconds = time.perf_counter() - started
    for upload_id in opened:
        api.delete(f"/uploads/{upload_id}")
    return {"opened": len(opened), "seconds": round(seconds, 2), "then": refusal}


def largest_accepted(api: httpx.Client) -> int:
    """The largest declared size a session is opened for (binary search)."""
    low, high = 0, 1 << 62
    while low < high:
        size = (low + high + 1) // 2
        response = api.post("/uploads", json={"digest": digest(os.urandom(8)), "size": size})
        if response.status_code == 201:
            api.delete(f"/uploads/{response.json()['id']}")
            low = size
        else:
            high = size - 1
    return low


def held_seconds(port: int, head: bytes) -> float:
    """Seconds from sending ``head`` (and nothing more) until the server closes."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(HOLD_CAP)
        sock.sendall(head)
        started = time.perf_counter()
        try:
            while sock.recv(65536):
                pass
        except TimeoutError:
            return HOLD_CAP
        except ConnectionResetError:
            pass
        return round(time.perf_counter() - started, 1)


def description_body(size: int) -> bytes:
    """A model whose description makes the body ``size`` bytes."""
    head, tail = b'{"name": "bench/json", "description": "', b'"}'
    return head + b"d" * (size - len(head) - len(tail)) + tail


def manifest_body(size: int) -> bytes:
    """A version of as many files as fit in ``size`` bytes (each parsed into objects)."""
    entry = '{"path": "f/%07d.bin", "size": 1, "digest": "sha256:' + "0" * 64 + '"}'
    count = (size - 20) // (len(entry % 0) + 2)
    return ('{"files": [' + ", ".join(entry % n for n in range(count)) + "]}").encode()


def json_bodies_rss(server: BenchServer, path: str, body: bytes, clients: int) -> dict[str, Any]:
    """Peak RSS while ``clients`` copies of a JSON ``body`` are sent to ``path`` at once."""
    statuses: list[int] = []

    def send() -> None:
        try:
            response = httpx.post(
                f"{server.url}/api/v1{path}",
                content=body,
                headers={"content-type": "application/json"},
                timeout=120,
            )
            statuses.append(response.status_code)
        except httpx.TransportError:
            statuses.append(0)

    before = server.rss()
    server.start_sampling()
    threads = [threading.Thread(target=send) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = server.stop_sampling()
    return {
        "rss_before_mib": round(before / MiB),
        "rss_peak_mib": round(peak / MiB),
        "statuses": sorted(statuses),
    }


def manifest_rss(api: httpx.Client, server: BenchServer) -> dict[str, Any]:
    """Peak RSS while four version creates of 8 MiB manifests (~70,000 files) are parsed
    at once (their blobs are absent: each ends in BLOB_UNKNOWN once parsed)."""
    api.post("/models", json={"name": "bench/manifest"})
    path = "/models/bench/manifest/-/versions"
    return json_bodies_rss(server, path, manifest_body(8 * MiB - 1024), 4)


def refused_patch_appends(api: httpx.Client, port: int) -> dict[str, Any]:
    """Bytes a PATCH of 3 MiB to a 1 MiB session leaves behind."""
    data = os.urandom(MiB)
    upload_id = api.post("/uploads", json={"digest": digest(data), "size": len(data)}).json()["id"]
    body = os.urandom(3 * MiB)
    head = (
        f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: bench\r\n"
        f"Upload-Offset: 0\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    status = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        reply = sock.recv(65536)
        if reply:
            status = int(reply.split(b" ", 2)[1])
    time.sleep(0.5)
    offset = api.get(f"/uploads/{upload_id}").json()["offset"]
    api.delete(f"/uploads/{upload_id}")
    return {"status": status, "appended_bytes": offset}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-src", type=Path, help="run the server from this src dir")
    parser.add_argument("--sessions", type=int, default=300)
    args = parser.parse_args()
    env = {"PYTHONPATH": str(args.server_src.resolve())} if args.server_src else {}
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        server = BenchServer(Path(tmp) / "data", env=env)
        try:
            with httpx.Client(base_url=f"{server.url}/api/v1", timeout=60) as api:
                figures = {
                    "sessions_of_1_tib": open_sessions(api, TiB, args.sessions),
                    "sessions_of_1_gib": open_sessions(api, GiB, args.sessions),
                    "sessions_of_256_gib": open_sessions(api, 256 * GiB, args.sessions),
                    "largest_accepted_size": largest_accepted(api),
                    "declared_body_never_sent_held_s": held_seconds(
                        server.port,
                        b"POST /api/v1/models HTTP/1.1\r\nHost: bench\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
                    ),
                    "half_sent_headers_held_s": held_seconds(
                        server.port, b"GET /healthz HTTP/1.1\r\nHost: bench\r\n"
                    ),
                    "refused_patch": refused_patch_appends(api, server.port),
                    "json_4x60_mib": json_bodies_rss(
                        server, "/models", description_body(60 * MiB), 4
                    ),
                    "json_4x8_mib_manifests": manifest_rss(api, server),
                }
        finally:
            server.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
