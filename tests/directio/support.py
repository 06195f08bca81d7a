"""Helpers of the ``modeldepot.directio`` tests: payloads, files in known cache states."""

from __future__ import annotations

import fcntl
import os
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from modeldepot.directio import BLOCK, BUFFER, DirectAppender, DirectReader, cached_pages, create
from tests.conformance.blobstore import pieces

MiB = 1024 * 1024
HAS_O_DIRECT = bool(getattr(os, "O_DIRECT", 0))
NEEDS_O_DIRECT = pytest.mark.skipif(not HAS_O_DIRECT, reason="this platform has no O_DIRECT")
DIRECT = pytest.mark.parametrize("direct", [True, False], ids=["direct", "buffered"])
READ_SIZE = 2 * BUFFER + 12_345
STATES = pytest.mark.parametrize("state", ["just_written", "cold", "half_cached", "warm"])


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


def append(fd: int, offset: int, data: bytes, sizes: Sequence[int], *, direct: bool) -> int:
    """Append ``data`` in pieces with a ``DirectAppender``; return what ``close`` says."""
    appender = DirectAppender(fd, offset, direct=direct)
    for piece in pieces(data, sizes):
        appender.write(piece)
    assert appender.size == offset + len(data)
    return appender.close()


def write_file(path: Path, data: bytes, sizes: Sequence[int] = (MiB,), *, direct: bool) -> None:
    fd, used = create(path, direct=direct)
    try:
        assert used is direct
        assert append(fd, 0, data, sizes, direct=used) == len(data)
    finally:
        os.close(fd)


def uses_o_direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache (written back first, or they stay)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        return cached_pages(fd, 0, max(1, path.stat().st_size))
    finally:
        os.close(fd)


def read_through(reader: DirectReader, offset: int, end: int) -> bytes:
    """Everything from ``offset`` on, one ``read`` at a time, as a server streams it."""
    parts = []
    while chunk := reader.read(offset, end - offset):
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


def put_in_state(path: Path, state: str) -> None:
    if state in ("cold", "half_cached"):
        evict(path)
    if state in ("warm", "half_cached"):
        with path.open("rb") as file:
            file.read(READ_SIZE // 2 if state == "half_cached" else None)


def window_cases(size: int, chunk: int) -> list[tuple[int, int]]:
    return [
        (0, size),
        (0, 1),
        (1, 100),
        (BLOCK - 1, 2),
        (BLOCK, BLOCK),
        (BLOCK + 1, chunk),
        (BUFFER - 3, 10),
        (BUFFER - 3, 2 * BUFFER),
        (3, BUFFER + BLOCK),
        (size - 10, 100),
        (size - 1, 1),
        (size, 10),
        (size + 5000, 10),
        (17, 0),
    ]
