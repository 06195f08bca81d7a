"""Content digests: always the string ``sha256:<64 lowercase hex>``.

Hashing streams: nothing here reads a whole file into memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from modeldepot.errors import DigestInvalid
from modeldepot.overlap import Behind, Chunk

ALGORITHM = "sha256"
CHUNK_SIZE = 1024 * 1024
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def parse_digest(value: str) -> str:
    """Return ``value`` if it is a well-formed sha256 digest, else raise DigestInvalid."""
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise DigestInvalid(
            f"not a sha256 digest: {value!r} (expected 'sha256:' and 64 hex digits)"
        )
    return value


def is_digest(value: str) -> bool:
    return isinstance(value, str) and bool(_DIGEST.fullmatch(value))


def hex_of(digest: str) -> str:
    """The 64-character hex part of a digest."""
    return parse_digest(digest)[len(ALGORITHM) + 1 :]


def from_hasher(hasher: hashlib._Hash) -> str:
    return f"{ALGORITHM}:{hasher.hexdigest()}"


def digest_bytes(data: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(data).hexdigest()}"


class PipelinedHasher:
    """sha256 of a stream, computed in a helper thread one chunk behind the caller.

    hashlib releases the GIL on large buffers, so the caller's I/O on chunk N+1 runs
    while chunk N is hashed. Chunks are hashed in the order given. Not thread-safe.
    """

    def __init__(self, hasher: hashlib._Hash | None = None) -> None:
        self.hasher = hasher if hasher is not None else hashlib.sha256()
        self._behind = Behind(self.hasher.update)

    def update(self, data: Chunk) -> None:
        """Hash ``data`` after what came before; it must stay unchanged until hashed."""
        self._behind(data)

    def wait(self) -> hashlib._Hash:
        """Finish hashing what was given; return the underlying hashlib object."""
        self._behind.wait()
        return self.hasher

    def digest(self) -> str:
        return from_hasher(self.wait())


def digest_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Digest and total size of a stream of chunks."""
    hasher = hashlib.sha256()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return from_hasher(hasher), size


def digest_fileobj(fileobj: BinaryIO) -> tuple[str, int]:
    """Digest and size of a binary file object, read from its current position."""
    hasher = hashlib.sha256()
    size = 0
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    while n := fileobj.readinto(buffer):  # type: ignore[attr-defined]
        hasher.update(view[:n])
        size += n
    return from_hasher(hasher), size


def digest_file(path: str | Path) -> tuple[str, int]:
    """Digest and size of the file at ``path``."""
    with open(path, "rb", buffering=0) as fileobj:
        return digest_fileobj(fileobj)
