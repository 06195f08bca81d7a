"""CPU the telemetry middleware adds to one request (request id, timing, metrics).

    python -m bench.telemetry [--requests 200000]

Runs a request shaped like a version create (eight request headers, a 600-byte JSON
body, a 201 with a 400-byte answer) through a bare ASGI endpoint, with and without
``Telemetry`` around it, on one event loop; prints JSON: microseconds per request of
each and their difference, best of five rounds. Also the cost with the JSON access log
on (lines formatted and written to /dev/null), which replaces uvicorn's access log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from types import SimpleNamespace
from typing import Any

from modeldepot.server.logs import ACCESS_LOGGER, JsonFormatter, RequestIdFilter
from modeldepot.server.metrics import HttpMetrics
from modeldepot.server.telemetry import Telemetry

ROUTE = SimpleNamespace(path_format="/models/{name}/-/versions")
BODY = b"x" * 600
ANSWER = b"y" * 400
SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/api/v1/models/team/churn/-/versions",
    "client": ("127.0.0.1", 50000),
    "headers": [
        (b"host", b"127.0.0.1:8470"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"connection", b"keep-alive"),
        (b"user-agent", b"modeldepot/0.1.0"),
        (b"authorization", b"Bearer mdp_abcdefghijkl_" + b"s" * 43),
        (b"content-type", b"application/json"),
        (b"content-length", b"600"),
    ],
}


async def endpoint(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    scope["route"] = ROUTE
    headers = [(b"content-type", b"application/json"), (b"content-length", b"400")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def send(message: dict[str, Any]) -> None:
    return None


async def per_request(app: Any, requests: int) -> float:
    """Best of five rounds, in microseconds per request."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(requests):
            await app(dict(SCOPE), receive, send)
        best = min(best, (time.perf_counter() - start) / requests * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    metrics = HttpMetrics(lambda: None)
    observed = Telemetry(endpoint, metrics, prefix="/api/v1")
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logged = Telemetry(endpoint, metrics, prefix="/api/v1", log_access=True)

    async def run() -> dict[str, float]:
        bare = await per_request(endpoint, args.requests)
        with_telemetry = await per_request(observed, args.requests)
        with_log = await per_request(logged, args.requests // 4)
        return {
            "bare_endpoint_us": round(bare, 2),
            "with_telemetry_us": round(with_telemetry, 2),
            "telemetry_overhead_us": round(with_telemetry - bare, 2),
            "with_json_access_log_us": round(with_log, 2),
            "json_access_log_line_us": round(with_log - with_telemetry, 2),
        }

    print(json.dumps(asyncio.run(run()), indent=2))


if __name__ == "__main__":
    main()
