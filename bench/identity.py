"""What identities cost: the metadata figures of the code before them and of this code,
measured in turns in one run, every request of the new code carrying a token.

    python -m bench.identity --baseline-src DIR [--rounds 2] [--clients 16]
                             [--database-url URL] [--replica-clients 32]

``--baseline-src`` is the ``src`` directory of a checkout from before authentication
(e.g. ``git worktree add /tmp/base 5350fa7``). Each round starts each server on a fresh
data directory (and, with ``--database-url``, a fresh PostgreSQL database) and measures
with wrk (``apt-get install wrk``): sequential version creates, creates from
``--clients`` connections on one model, alias resolution; on PostgreSQL also creates
from ``--replica-clients`` connections over two replicas on one database, on as many
models. Prints JSON: each figure per round, and new/old ratios of the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.scratch import new_postgres_database

from bench import metadata
from bench.scaleout import parallel_wrk
from bench.server import BenchServer
from modeldepot.digest import digest_bytes

DIGEST = digest_bytes(b"blob")


@contextmanager
def database(url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database under ``url`` for one server's run (None: SQLite)."""
    if url is None:
        yield None
        return
    with new_postgres_database(url, "modeldepot_bench") as fresh:
        yield fresh


def upload_blob(server: BenchServer, headers: dict[str, str]) -> None:
    url = f"{server.url}/api/v1/blobs/{DIGEST}"
    response = httpx.put(url, content=b"blob", headers=headers, params={"model": "bench/x"})
    response.raise_for_status()


def one_server(work: Path, env: dict[str, str], url: str | None, clients: int) -> dict[str, Any]:
    server = BenchServer(work, url, env=env)
    try:
        metadata.HEADERS.clear()
        metadata.HEADERS.update(server.headers)
        upload_blob(server, metadata.HEADERS)
        metadata.create_versions(server.url, "bench/warm", DIGEST, 50, [])
        return metadata.wrk_figures(server.url, "bench/wrk", DIGEST, clients, work)
    finally:
        server.stop()


def two_replicas(work: Path, env: dict[str, str], url: str, clients: int) -> dict[str, float]:
    servers = [BenchServer(work / "a", url, env=env)]  # the first migrates and bootstraps
    try:
        servers.append(BenchServer(work / "b", url, env=env))
        headers = servers[0].headers
        upload_blob(servers[0], headers)
        body = json.dumps({"files": [{"path": "w.bin", "size": 4, "digest": DIGEST}]})
        auth = "".join(f', ["{k}"] = "{v}"' for k, v in headers.items())
        script = work / "replicas.lua"
        script.write_text(
            "local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            f'  local path = "/api/v1/models/bench/scale-" .. (n % {clients}) .. "/-/versions"\n'
            f'  return wrk.format("POST", path, {{["Content-Type"] = "application/json"{auth}}}, '
            f"{json.dumps(body)})\n"
            "end\n"
        )
        return parallel_wrk([s.url for s in servers], clients, script)
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--replica-clients", type=int, default=32)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="md-identity-"))
    codes = {
        "before": {"PYTHONPATH": str(args.baseline_src.resolve())},
        "after": {},
    }
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in codes}
    for round_ in range(args.rounds):
        for label, env in codes.items():
            here = work / f"{label}-{round_}"
            with database(args.database_url) as url:
                figures = one_server(here, env, url, args.clients)
            if args.database_url:
                with database(args.database_url) as url:
                    assert url is not None
                    figures["two_replicas"] = two_replicas(
                        here / "replicas", env, url, args.replica_clients
                    )
            runs[label].append(figures)
    print(json.dumps({"runs": runs, "after_over_before": ratios(runs)}, indent=2))


def ratios(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, first in runs["before"][0].items():
        if not isinstance(first, dict):
            continue
        out[key] = {}
        for metric in first:
            old = statistics.median(r[key][metric] for r in runs["before"])
            new = statistics.median(r[key][metric] for r in runs["after"])
            out[key][metric] = round(new / old, 3) if old else float("nan")
    return out


if __name__ == "__main__":
    main()
