"""Sample digests: a cheap test that the server certainly lacks a large file.

A file's *sample digest* is the sha256 of its size and of ``WINDOWS`` windows of
``WINDOW`` bytes spread evenly over it, the first at its start and the last at its
end: 1 MiB read, whatever the file's size. Equal content gives equal samples, so a
server with no stored blob of the file's size and sample certainly lacks the file,
and the client can send it while it hashes it instead of hashing it first. A match
proves nothing (the bytes between the windows may differ); the client then hashes the
file and asks by digest, as for any other file.

Files smaller than ``SAMPLE_MIN_SIZE`` have no sample: hashing them first is cheap.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable

SAMPLE_MIN_SIZE = 8 * 1024 * 1024
WINDOWS = 8
WINDOW = 128 * 1024
# Changing the windows changes every sample: bump the tag with them.
_TAG = b"modeldepot-sample-1\n"


def has_sample(size: int) -> bool:
    return size >= SAMPLE_MIN_SIZE


def window_offsets(size: int) -> list[int]:
    """Where the windows of a file of ``size`` bytes start (``size`` ≥ SAMPLE_MIN_SIZE)."""
    last = size - WINDOW
    return [last * i // (WINDOWS - 1) for i in range(WINDOWS)]


def sample_digest(size: int, read: Callable[[int, int], Iterable[bytes]]) -> str:
    """The sample digest of ``size`` bytes, whose range (offset, length) ``read`` yields.

    ValueError if ``read`` yields fewer bytes than asked (the file shrank).
    """
    if not has_sample(size):
        raise ValueError(f"a file of {size} bytes has no sample")
    hasher = hashlib.sha256(_TAG + str(size).encode() + b"\n")
    for offset in window_offsets(size):
        got = 0
        for chunk in read(offset, WINDOW):
            hasher.update(chunk)
            got += len(chunk)
        if got != WINDOW:
            raise ValueError(f"read {got} of {WINDOW} bytes at offset {offset}")
    return f"sha256:{hasher.hexdigest()}"


def sample_of_file(fd: int, size: int) -> str:
    """The sample digest of the open file ``fd``, whose size is ``size``."""

    def read(offset: int, length: int) -> Iterable[bytes]:
        yield os.pread(fd, length, offset)

    return sample_digest(size, read)
