"""Presigned transfers: clients move blob bytes to and from the store themselves.

A store that clients can reach directly (S3 and compatibles) hands out time-limited
URLs instead of relaying bytes through the server. An upload is an ordinary session
(``begin_upload`` … ``finish_upload``) whose bytes arrive as parts PUT straight into
its staging area, in parallel and in any order; the session's staged size is the
unbroken run of parts from offset 0, so an interrupted upload resumes by sending the
parts still missing. Nothing a client sends lands under a blob's digest: the server's
``finish_upload`` verifies size and sha256 before the blob exists.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

MIB = 1024 * 1024
# S3's minimum is 5 MiB for every part but the last; 16 MiB parts keep the number of
# requests low while a 1 GiB blob still goes up in 64 parallel pieces.
MIN_PART_SIZE = 16 * MIB
MAX_PARTS = 10_000  # S3's most parts in one multipart upload


def part_size_for(size: int) -> int:
    """The part size for a blob of ``size`` bytes: 16 MiB, or larger to stay within
    10,000 parts (a whole number of MiB)."""
    needed = -(-size // MAX_PARTS)
    return max(MIN_PART_SIZE, -(-needed // MIB) * MIB)


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


@runtime_checkable
class PresignedStore(Protocol):
    """The part of a blob store that hands out presigned URLs."""

    def presigned_get(self, digest: str, expires_in: int) -> str:
        """A URL that GETs the blob (Range requests work). Signing is local work: it
        does not ask the store whether the blob exists (the caller's records say so)."""

    def presigned_put(
        self, upload_id: str, offset: int, expires_in: int, length: int | None = None
    ) -> str:
        """A URL that PUTs one part of the session: the bytes from ``offset``; with
        ``length``, the store refuses a body of any other length."""

    def staged_parts(self, upload_id: str) -> dict[int, int]:
        """Offset → size of every part the session holds, in any order, gaps included.
        UploadNotFound if the session was never begun or is gone."""
