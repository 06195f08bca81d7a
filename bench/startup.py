"""Server start-up time (process start to a 200 from /healthz) and idle memory.

python -m bench.startup [--runs 5]
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
    ready: list[float] = []
    rss: list[int] = []
    for _ in range(args.runs):
        server = BenchServer(Path(tempfile.mkdtemp(prefix="md-start-")) / "data")
        ready.append(server.ready_seconds)
        time.sleep(1)
        rss.append(server.rss())
        server.stop()
    print(
        json.dumps(
            {
                "ready_s_median": round(percentile(ready, 50), 3),
                "ready_s_max": round(max(ready), 3),
                "idle_rss_mb_median": round(percentile(rss, 50) / 1e6, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
