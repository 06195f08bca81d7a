"""Version-create and alias-resolution latency against a real server.

    python -m bench.metadata [--creates 2000] [--clients 16] [--database-url URL]

A "version create" is one commit (``POST /models/{name}/-/versions``) of a manifest
whose blob is already stored, with a few params and metrics: the metadata path of a
push. Prints JSON: creates/s and p50/p99 latency sequentially and with N concurrent
clients, and p50/p99 of resolving ``name@alias``.

Measured twice: with Python clients (httpx, as the SDK uses: what a user sees, client
overhead included) and, if ``wrk`` is installed (``apt-get install wrk``), with wrk
(what the server sustains; a C client costs next to nothing).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.server import BenchServer, percentile
from modeldepot.digest import digest_bytes

# The token every request sends (set by main once the server has written it): measured
# with authentication on, as every real client runs.
HEADERS: dict[str, str] = {}


def http_client(url: str) -> httpx.Client:
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(base_url=url + "/api/v1", transport=transport, timeout=60, headers=HEADERS)


def commit_body(digest: str, i: int) -> dict:
    return {
        "files": [{"path": "model.bin", "size": 4, "digest": digest}],
        "params": {"lr": 0.01, "seed": i},
        "metrics": {"auc": 0.9},
    }


def create_versions(url: str, name: str, digest: str, count: int, out: list[float]) -> None:
    with http_client(url) as http:
        for i in range(count):
            start = time.perf_counter()
            response = http.post(f"/models/{name}/-/versions", json=commit_body(digest, i))
            out.append(time.perf_counter() - start)
            response.raise_for_status()


def summary(latencies: list[float], seconds: float) -> dict:
    return {
        "count": len(latencies),
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


WRK_SECONDS = 5


def wrk(url: str, connections: int, script: Path | None = None) -> dict:
    """Requests/s and p50/p99 (ms) of ``wrk`` against ``url``."""
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{WRK_SECONDS}s",
        "--latency",
    ]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(pct: str) -> float:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)$", out, re.M)
        assert match, out
        return round(float(match.group(1)) * scale[match.group(2)], 2)

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate, out
    return {"per_second": float(rate.group(1)), "p50_ms": latency("50"), "p99_ms": latency("99")}


def wrk_auth() -> str:
    """Lines of a wrk script that send the token."""
    return "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in HEADERS.items())


def wrk_figures(base: str, name: str, digest: str, clients: int, work: Path) -> dict:
    script = work / "create.lua"
    body = json.dumps(commit_body(digest, 0))
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
        'wrk.headers["Content-Type"] = "application/json"\n' + wrk_auth()
    )
    models = f"{base}/api/v1/models"
    figures = {
        "sequential_creates": wrk(f"{models}/{name}-seq/-/versions", 1, script),
        f"concurrent_creates_{clients}_clients": wrk(
            f"{models}/{name}-conc/-/versions", clients, script
        ),
    }
    with http_client(base) as http:
        http.put(f"/models/{name}-seq/-/aliases/champion", json={"version": 1}).raise_for_status()
        numbers = [v["number"] for v in _all_versions(http, f"{name}-conc")]
    figures["concurrent_numbers_contiguous"] = sorted(numbers) == list(range(1, len(numbers) + 1))
    resolve = work / "resolve.lua"
    resolve.write_text(wrk_auth())
    figures["resolve_alias"] = wrk(f"{base}/api/v1/resolve?ref={name}-seq@champion", 1, resolve)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--resolves", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="md-meta-"))
    server = BenchServer(work / "data", args.database_url)
    HEADERS.update(server.headers)
    suffix = str(int(time.time()))
    try:
        with http_client(server.url) as http:
            digest = digest_bytes(b"blob")
            http.put(f"/blobs/{digest}", content=b"blob").raise_for_status()
            create_versions(server.url, f"bench/warm-{suffix}", digest, 50, [])

            sequential: list[float] = []
            start = time.perf_counter()
            create_versions(server.url, f"bench/seq-{suffix}", digest, args.creates, sequential)
            seq = summary(sequential, time.perf_counter() - start)

            concurrent: list[float] = []
            per_client = args.creates // args.clients
            threads = [
                threading.Thread(
                    target=create_versions,
                    args=(server.url, f"bench/conc-{suffix}", digest, per_client, concurrent),
                )
                for _ in range(args.clients)
            ]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            conc = summary(concurrent, time.perf_counter() - start)
            numbers = [v["number"] for v in _all_versions(http, f"bench/conc-{suffix}")]
            contiguous = sorted(numbers) == list(range(1, per_client * args.clients + 1))

            http.put(f"/models/bench/seq-{suffix}/-/aliases/champion", json={"version": 7})
            resolves: list[float] = []
            for _ in range(args.resolves):
                t = time.perf_counter()
                http.get(
                    "/resolve", params={"ref": f"bench/seq-{suffix}@champion"}
                ).raise_for_status()
                resolves.append(time.perf_counter() - t)
        results: dict = {
            "database": "postgresql" if args.database_url else "sqlite",
            "python_clients": {
                "sequential_creates": seq,
                f"concurrent_creates_{args.clients}_clients": conc,
                "concurrent_numbers_contiguous": contiguous,
                "resolve_alias": {
                    "p50_ms": round(percentile(resolves, 50) * 1000, 2),
                    "p99_ms": round(percentile(resolves, 99) * 1000, 2),
                },
            },
        }
        if shutil.which("wrk"):
            results["wrk"] = wrk_figures(
                server.url, f"bench/wrk-{suffix}", digest, args.clients, work
            )
        print(json.dumps(results, indent=2))
    finally:
        server.stop()


def _all_versions(http: httpx.Client, name: str) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = http.get(f"/models/{name}/-/versions", params=params).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


if __name__ == "__main__":
    main()
