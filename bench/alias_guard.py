"""What the protected-alias guard costs: moves of an unprotected alias on the code before
the guard and on this code, in turns in one run, every request carrying a token.

    python -m bench.alias_guard --baseline-src DIR [--rounds 2] [--seconds 5]
                                [--database-url URL]

``--baseline-src`` is the ``src`` directory of a checkout from before the guard (e.g.
``git archive 4cc7e21 src | tar -x -C /tmp/base``). Each round starts each server on a
fresh data directory (and, with ``--database-url``, a fresh PostgreSQL database), the
old code first in even rounds and second in odd ones (the second of a pair ran 9-22 %
slower, whichever it was), with a model of two versions, then measures with wrk
(``apt-get install wrk``) over one connection, one request at a time:

* ``moves``: ``PUT …/aliases/champion`` alternating between versions 1 and 2, so that
  every request really moves the alias (the guard's query, the history row and the
  audit record each time); ``champion`` is not protected, so every move is let through;
* ``list``: ``GET …/aliases`` of the model with its two aliases (the new code also says
  which of them are protected: one more query per listing).

Prints JSON: each figure per round, and this code's over the old code's medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench import metadata
from bench.identity import DIGEST, database, upload_blob
from bench.server import BenchServer

MODEL = "bench/guarded"
ALIAS = "champion"


def moves_script(path: Path, headers: dict[str, str]) -> Path:
    """A wrk script whose requests move the alias to 1, 2, 1, 2, …"""
    auth = "".join(f', ["{k}"] = "{v}"' for k, v in headers.items())
    path.write_text(
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        '  local body = \'{"version": \' .. (n % 2 + 1) .. "}"\n'
        f'  return wrk.format("PUT", "/api/v1/models/{MODEL}/-/aliases/{ALIAS}", '
        f'{{["Content-Type"] = "application/json"{auth}}}, body)\n'
        "end\n"
    )
    return path


def one_server(work: Path, env: dict[str, str], url: str | None) -> dict[str, Any]:
    server = BenchServer(work, url, env=env)
    try:
        headers = server.headers
        upload_blob(server, headers)
        metadata.HEADERS.clear()
        metadata.HEADERS.update(headers)
        metadata.create_versions(server.url, MODEL, DIGEST, 2, [])
        with metadata.http_client(server.url) as http:
            http.put(f"/models/{MODEL}/-/aliases/canary", json={"version": 1}).raise_for_status()
            for number in (1, 2) * 25:  # warm up the move path
                http.put(f"/models/{MODEL}/-/aliases/{ALIAS}", json={"version": number})
        base = f"{server.url}/api/v1/models/{MODEL}/-/aliases"
        listing = work / "list.lua"
        listing.write_text(metadata.wrk_auth())
        figures = {
            "moves": metadata.wrk(base, 1, moves_script(work / "moves.lua", headers)),
            "list": metadata.wrk(base, 1, listing),
        }
        # Every move was recorded (wrk counts any answer but a 2xx as an error).
        last = httpx.get(f"{base}/{ALIAS}/history", params={"limit": 1}, headers=headers)
        (event,) = last.json()["items"]
        figures["last_move"] = f"{event['from_version']} -> {event['to_version']}"
        return figures
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=metadata.WRK_SECONDS)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    metadata.WRK_SECONDS = args.seconds
    work = Path(tempfile.mkdtemp(prefix="md-alias-guard-"))
    codes = {"before": {"PYTHONPATH": str(args.baseline_src.resolve())}, "after": {}}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in codes}
    for round_ in range(args.rounds):
        # ABBA: whichever runs second in a round may pay for the first one's writeback.
        order = list(codes.items()) if round_ % 2 == 0 else list(codes.items())[::-1]
        for label, env in order:
            with database(args.database_url) as url:
                runs[label].append(one_server(work / f"{label}-{round_}", env, url))
    print(json.dumps({"runs": runs, "after_over_before": ratios(runs)}, indent=2))


def ratios(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key in ("moves", "list"):
        out[key] = {}
        for metric in ("per_second", "p50_ms", "p99_ms"):
            old = statistics.median(r[key][metric] for r in runs["before"])
            new = statistics.median(r[key][metric] for r in runs["after"])
            out[key][metric] = round(new / old, 3) if old else float("nan")
    return out


if __name__ == "__main__":
    main()
