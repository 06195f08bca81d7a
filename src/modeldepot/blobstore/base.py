"""The blob store contract.

A blob store keeps immutable blobs under their sha256 digest and stages the bytes of
upload sessions until they are verified. Every implementation passes the suite in
``tests/conformance/blobstore.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class StagedInfo:
    upload_id: str
    size: int
    modified_at: datetime


class UploadWriter(Protocol):
    """Appends bytes to one upload session, in order. Not thread-safe."""

    def write(self, data: bytes | memoryview) -> None:
        """Append ``data``. Bytes written are durable once ``close`` returns.

        ``data`` may be a view of a buffer the caller reuses: the writer is done with
        it once the next ``write`` or ``close`` returned, and never keeps it longer.
        """

    def close(self) -> int:
        """Flush and release the session; return its size in bytes. Safe to call twice."""


class BlobStore(Protocol):
    """Immutable content-addressed blobs plus staging for uploads."""

    def stat(self, digest: str) -> int | None:
        """Size of the blob, or None if absent. Never raises for an absent blob."""

    def read(self, digest: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream ``length`` bytes (all to the end if None) from ``offset``.

        Raises BlobNotFound at call time, before any byte is produced, if absent.
        """

    def delete(self, digest: str) -> bool:
        """Remove the blob; True if it existed. Idempotent."""

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every committed blob, in no particular order (for garbage collection)."""

    def begin_upload(self, upload_id: str) -> None:
        """Create an empty staging area for ``upload_id``. Idempotent."""

    def staged_size(self, upload_id: str) -> int:
        """Bytes received so far. Raises UploadNotFound if the session has no staging area."""

    def open_upload(self, upload_id: str, offset: int) -> UploadWriter:
        """A writer appending at ``offset``, which must equal ``staged_size``.

        Raises UploadOffsetMismatch (with ``offset`` = the current size) otherwise, and
        UploadConflict if another writer holds the session.
        """

    def finish_upload(self, upload_id: str, digest: str, size: int) -> None:
        """Verify the staged bytes against ``digest`` and ``size`` and commit them as a blob.

        On success the staging area is gone and the blob is readable. On DigestMismatch
        or SizeMismatch the staged bytes are discarded and nothing is stored. If the
        blob already exists the staged copy is simply discarded. Safe to repeat.
        """

    def abort_upload(self, upload_id: str) -> None:
        """Discard the staging area. Idempotent."""

    def iter_staged(self) -> Iterator[StagedInfo]:
        """Every staging area, for cleanup of abandoned uploads."""


@runtime_checkable
class LocalDisk(Protocol):
    """A store whose bytes live on a filesystem of this machine, which can fill up."""

    def free_bytes(self) -> int:
        """Bytes still free for the store's files on its filesystem."""

    def device(self) -> int:
        """The filesystem's device number (``st_dev``): two paths on the same one share
        its free space."""
