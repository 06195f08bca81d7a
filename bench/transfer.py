"""Push and pull throughput against ``cp`` of the same bytes on the same disk.

    python -m bench.transfer [--size-mib 1024] [--files 200] [--rounds 3] [--settle 5]
                             [--dir /path/on/disk]

Two cases: a single large file, and a model of many files with the same total size.
Each case runs ``--rounds`` rounds on fresh random content (so every push sends all
its bytes as new blobs). A round times, in this order and each after ``sync`` and a
settle: ``cp``, push, ``cp``, pull without the cache, ``cp``, then ``cp`` followed by
``sync``.

Why paired: on this VM ``cp`` of 1 GiB runs anywhere from 400 MB/s to 4 GB/s from one
minute to the next, depending on whether the pages it fills are still backed by the
host or were given back by the balloon driver. A ``cp`` measured once and compared with
a push a minute later measures the machine's mood. So each push (and pull) is compared
with the mean time of the two ``cp`` runs just before and just after it, and the
rounds show how much that ratio still moves. ``cp`` + ``sync`` is a second reference
with the bytes on the disk, as the server's push (it fsyncs every blob) and pull (it
writes with O_DIRECT) leave them.

A third reference is for the pull alone: ``cp`` of the pushed version's blob files, as
the server stores them, first dropped from the page cache (the server wrote them with
O_DIRECT, so a pull finds them on the disk too), then ``sync``. It moves the bytes a
pull moves: read from the disk, written to the disk. The ``cp`` above reads a source
the page cache holds and leaves its copy there.

Once per case, on the last round's content: pull filling an empty cache, pull again
from the warm cache, re-push of unchanged content against the time to sha256 it. The
server's peak resident memory is sampled during every push; the maximum is reported.

Prints one JSON document: per case, the rounds, a min / median / max summary of the
rates and ratios, and the once-per-case figures; then the server's idle memory and
start-up time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.server import BenchServer
from modeldepot.blobstore.paths import blob_key
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


def remove(path: Path) -> None:
    """Delete a file or a directory tree, if it exists."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def cp_seconds(source: Path, target: Path, *, sync: bool = False) -> float:
    """Seconds ``cp -r`` takes (then ``sync`` too, if asked); the copy is removed."""

    def run() -> None:
        subprocess.run(["cp", "-r", str(source), str(target)], check=True)
        if sync:
            os.sync()

    seconds = timed(run)
    remove(target)
    return seconds


def cp_from_store_seconds(md: Client, server: BenchServer, ref: str, target: Path) -> float:
    """Seconds to copy the blob files of ``ref`` out of the server's store and ``sync``,
    starting with none of them in the page cache; the copies are removed."""
    digests = sorted({f.digest for f in md.get_manifest(ref).files})
    blobs = [server.data_dir / "blobs" / blob_key(d) for d in digests]
    target.mkdir()

    def run() -> None:
        subprocess.run(["cp", *map(str, blobs), str(target)], check=True)
        os.sync()

    os.sync()
    for blob in blobs:
        fd = os.open(blob, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    seconds = timed(run)
    remove(target)
    return seconds


def sha256_seconds(path: Path) -> float:
    def run() -> None:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for f in files:
            with open(f, "rb") as handle:
                hashlib.file_digest(handle, "sha256")

    return timed(run)


def single_file_source(work: Path, size: int):
    """A callable writing a fresh directory holding one file of ``size`` bytes."""

    def make() -> Path:
        source = work / "source-single"
        remove(source)
        write_random(source / "model.bin", size)
        return source

    return make


def many_files_source(work: Path, files: int, per_file: int):
    """A callable writing a fresh directory of ``files`` files of ``per_file`` bytes."""

    def make() -> Path:
        source = work / "source-many"
        remove(source)
        for i in range(files):
            write_random(source / f"shard-{i:04d}.bin", per_file)
        return source

    return make


def measure_round(
    md: Client, server: BenchServer, source: Path, name: str, work: Path, mb: float
) -> tuple[dict, str, int]:
    """One round on fresh content: cp, push, cp, pull, cp, cp + sync, cp of the stored
    blobs + sync.

    Returns the round's figures, the pushed version's reference and the server's peak
    RSS during the push."""
    target, out = work / "cp-target", work / "pull-out"
    cp_before = cp_seconds(source, target)
    server.start_sampling()
    version = None

    def push() -> None:
        nonlocal version
        version = md.push(source, name)

    push_s = timed(push)
    peak = server.stop_sampling()
    ref = f"{version.model}:{version.number}"
    cp_between = cp_seconds(source, target)
    pull_s = timed(lambda: md.pull(ref, out, use_cache=False))
    remove(out)
    cp_after = cp_seconds(source, target)
    cp_sync = cp_seconds(source, target, sync=True)
    cp_store = cp_from_store_seconds(md, server, ref, target)
    cp_push = (cp_before + cp_between) / 2
    cp_pull = (cp_between + cp_after) / 2
    row = {
        "cp_before_push_mb_s": round(mb / cp_before, 1),
        "push_mb_s": round(mb / push_s, 1),
        "cp_after_push_mb_s": round(mb / cp_between, 1),
        "pull_mb_s": round(mb / pull_s, 1),
        "cp_after_pull_mb_s": round(mb / cp_after, 1),
        "cp_sync_mb_s": round(mb / cp_sync, 1),
        "cp_from_store_mb_s": round(mb / cp_store, 1),
        "push_vs_cp": round(cp_push / push_s, 3),
        "pull_vs_cp": round(cp_pull / pull_s, 3),
        "push_vs_cp_sync": round(cp_sync / push_s, 3),
        "pull_vs_cp_sync": round(cp_sync / pull_s, 3),
        "pull_vs_cp_from_store": round(cp_store / pull_s, 3),
        "server_peak_rss_mb": round(peak / 1e6, 1),
    }
    return row, ref, peak


def measure_once(md: Client, source: Path, name: str, ref: str, work: Path, mb: float) -> dict:
    """Re-push of unchanged content against sha256, then pulls through the cache.

    Deletes ``source`` once re-pushed and hashed, before the cache fills, to save disk."""
    repush = timed(lambda: md.push(source, name))
    hashing = sha256_seconds(source)
    remove(source)
    out = work / "pull-out"
    shutil.rmtree(md.cache.root, ignore_errors=True)
    cold_cache = timed(lambda: md.pull(ref, out))
    remove(out)
    warm_cache = timed(lambda: md.pull(ref, out))
    remove(out)
    shutil.rmtree(md.cache.root, ignore_errors=True)
    return {
        "pull_filling_cache_mb_s": round(mb / cold_cache, 1),
        "pull_from_warm_cache_s": round(warm_cache, 3),
        "repush_unchanged_s": round(repush, 3),
        "sha256_s": round(hashing, 3),
        "repush_vs_sha256": round(repush / hashing, 2),
    }


SUMMARISED = [
    "push_vs_cp",
    "pull_vs_cp",
    "push_mb_s",
    "pull_mb_s",
    "cp_mb_s",
    "cp_sync_mb_s",
    "push_vs_cp_sync",
    "pull_vs_cp_sync",
    "cp_from_store_mb_s",
    "pull_vs_cp_from_store",
]
CP_RUNS = ["cp_before_push_mb_s", "cp_after_push_mb_s", "cp_after_pull_mb_s"]


def summary(rows: list[dict]) -> dict:
    """Min, median and max of each summarised figure over the rounds (``cp_mb_s``: over
    every plain ``cp`` run, three per round)."""
    result = {}
    for key in SUMMARISED:
        if key == "cp_mb_s":
            values = [row[k] for row in rows for k in CP_RUNS]
        else:
            values = [row[key] for row in rows]
        result[key] = {
            "min": min(values),
            "median": round(statistics.median(values), 3),
            "max": max(values),
        }
    return result


def measure_case(
    md: Client, server: BenchServer, make_source, name: str, work: Path, size: int, rounds: int
) -> dict:
    """``rounds`` paired rounds on fresh content, then the once-per-case figures."""
    mb = size / 1e6
    rows, peak = [], 0
    for _ in range(rounds):
        source = make_source()
        row, ref, round_peak = measure_round(md, server, source, name, work, mb)
        rows.append(row)
        peak = max(peak, round_peak)
    once = measure_once(md, source, name, ref, work, mb)
    return {
        "bytes": size,
        "rounds": rows,
        "summary": summary(rows),
        **once,
        "server_peak_rss_mb_during_push": round(peak / 1e6, 1),
    }


def main() -> None:
    global SETTLE_SECONDS
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds per case")
    parser.add_argument(
        "--dir", type=Path, default=None, help="work directory (same disk as the data)"
    )
    parser.add_argument(
        "--settle", type=float, default=SETTLE_SECONDS, help="seconds before each timed step"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    SETTLE_SECONDS = args.settle
    work = Path(tempfile.mkdtemp(prefix="md-bench-", dir=args.dir))
    try:
        size = args.size_mib * MIB
        per_file = size // args.files
        server = BenchServer(work / "data")
        idle_rss = server.rss()
        try:
            with Client(server.url, cache_dir=work / "cache") as md:
                results = {
                    "single_file": measure_case(
                        md,
                        server,
                        single_file_source(work, size),
                        "bench/single",
                        work,
                        size,
                        args.rounds,
                    ),
                    f"{args.files}_files": measure_case(
                        md,
                        server,
                        many_files_source(work, args.files, per_file),
                        "bench/many",
                        work,
                        per_file * args.files,
                        args.rounds,
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
