"""Server start-up time (process start to a 200 from /healthz) and idle memory.

python -m bench.startup [--runs 5]

Two cases: the first start on an empty data directory, which creates the schema
(running every migration), and a restart on an existing one, what a server does
every other time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.server import BenchServer, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    first: list[float] = []
    again: list[float] = []
    rss: list[int] = []
    for _ in range(args.runs):
        data = Path(tempfile.mkdtemp(prefix="md-start-")) / "data"
        server = BenchServer(data)
        first.append(server.ready_seconds)
        time.sleep(1)
        rss.append(server.rss())
        server.stop()
        server = BenchServer(data)
        again.append(server.ready_seconds)
        server.stop()
    print(
        json.dumps(
            {
                "first_start_ready_s_median": round(percentile(first, 50), 3),
                "first_start_ready_s_max": round(max(first), 3),
                "restart_ready_s_median": round(percentile(again, 50), 3),
                "restart_ready_s_max": round(max(again), 3),
                "idle_rss_mb_median": round(percentile(rss, 50) / 1e6, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
