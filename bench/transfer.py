"""Push and pull throughput against ``cp`` of the same bytes on the same disk.

    python -m bench.transfer [--size-mib 1024] [--files 200] [--dir /path/on/disk]

Prints one JSON document: MB/s of push and pull for a single large file and for a
many-file model, their ratio to ``cp``, re-push time of unchanged content against the
time to sha256 it, and the server's peak resident memory during the large push.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.server import BenchServer
from modeldepot.client.client import Client

MIB = 1024 * 1024


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(4 * MIB)
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n
            block = hashlib.sha512(block[:64]).digest() * (len(block) // 64)


# Seconds each timed step waits after ``sync``. On a VM whose balloon driver reports
# free pages (this one), memory freed in the last two seconds or so is still backed by
# the host, and filling 1 GiB of it is 5 to 10 times faster than filling memory the host
# took back. Without the wait, whichever step follows a deletion (often ``cp``) runs on
# those warm pages and the ratios measure the order of the steps.
SETTLE_SECONDS = 5.0


def timed(action) -> float:
    """Seconds ``action`` takes, starting with no dirty pages left by earlier steps and
    no warm pages they freed."""
    os.sync()
    time.sleep(SETTLE_SECONDS)
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def cp_seconds(source: Path, target: Path) -> float:
    seconds = timed(lambda: subprocess.run(["cp", "-r", str(source), str(target)], check=True))
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    return seconds


def sha256_seconds(path: Path) -> float:
    def run() -> None:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for f in files:
            with open(f, "rb") as handle:
                hashlib.file_digest(handle, "sha256")

    return timed(run)


def measure(
    md: Client, server: BenchServer, source: Path, name: str, work: Path, size: int
) -> dict:
    mb = size / 1e6
    cp = cp_seconds(source, work / f"cp-{name.replace('/', '-')}")
    server.start_sampling()
    push = timed(lambda: md.push(source, name))
    peak = server.stop_sampling()
    repush = timed(lambda: md.push(source, name))
    hashing = sha256_seconds(source)
    shutil.rmtree(md.cache.root, ignore_errors=True)
    out = work / f"pull-{name.replace('/', '-')}"
    pull = timed(lambda: md.pull(name, out, use_cache=False))
    shutil.rmtree(out)
    cold_cache = timed(lambda: md.pull(name, out))
    shutil.rmtree(out)
    warm_cache = timed(lambda: md.pull(name, out))
    shutil.rmtree(out)
    return {
        "bytes": size,
        "cp_mb_s": round(mb / cp, 1),
        "push_mb_s": round(mb / push, 1),
        "push_vs_cp": round(cp / push, 2),
        "pull_mb_s": round(mb / pull, 1),
        "pull_vs_cp": round(cp / pull, 2),
        "pull_filling_cache_mb_s": round(mb / cold_cache, 1),
        "pull_from_warm_cache_s": round(warm_cache, 3),
        "repush_unchanged_s": round(repush, 3),
        "sha256_s": round(hashing, 3),
        "repush_vs_sha256": round(repush / hashing, 2),
        "server_peak_rss_mb_during_push": round(peak / 1e6, 1),
    }


def main() -> None:
    global SETTLE_SECONDS
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument(
        "--dir", type=Path, default=None, help="work directory (same disk as the data)"
    )
    parser.add_argument(
        "--settle", type=float, default=SETTLE_SECONDS, help="seconds before each timed step"
    )
    args = parser.parse_args()
    SETTLE_SECONDS = args.settle
    work = Path(tempfile.mkdtemp(prefix="md-bench-", dir=args.dir))
    try:
        single = work / "single" / "model.bin"
        write_random(single, args.size_mib * MIB)
        many = work / "many"
        per_file = args.size_mib * MIB // args.files
        for i in range(args.files):
            write_random(many / f"shard-{i:04d}.bin", per_file)
        server = BenchServer(work / "data")
        idle_rss = server.rss()
        try:
            with Client(server.url, cache_dir=work / "cache") as md:
                results = {
                    "single_file": measure(
                        md, server, single.parent, "bench/single", work, single.stat().st_size
                    ),
                    f"{args.files}_files": measure(
                        md, server, many, "bench/many", work, per_file * args.files
                    ),
                }
            results["server_idle_rss_mb"] = round(idle_rss / 1e6, 1)
            results["server_ready_s"] = round(server.ready_seconds, 3)
        finally:
            server.stop()
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
