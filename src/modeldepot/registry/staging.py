"""What the upload and blob services share: rows of stored blobs and upload sessions,
and the writer that keeps a session within its declared size."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from modeldepot.blobstore.base import UploadWriter
from modeldepot.db.engine import upsert
from modeldepot.db.tables import blobs, uploads
from modeldepot.errors import InvalidInput, SizeMismatch, UploadNotFound
from modeldepot.manifest import MAX_FILE_SIZE

# Digests per statement, well under every database's limit on bound parameters.
BATCH = 500


def record_blob(conn: Connection, digest: str, size: int, now: datetime) -> None:
    """Record a verified blob (or refresh it if already recorded)."""
    statement = upsert(conn, blobs).values(digest=digest, size=size, created_at=now, touched_at=now)
    refresh = {"touched_at": now, "collecting_at": None}  # an upload revives a doomed blob
    conn.execute(statement.on_conflict_do_update(index_elements=["digest"], set_=refresh))


def revive(conn: Connection, digest: str, now: datetime) -> None:
    """Take a stored blob of this digest back from any collection (an upload of its
    bytes is under way). Locks the row, so on PostgreSQL it waits for a collection that
    holds it to finish; then the collection either saw the session or removed the blob
    before the session existed."""
    conn.execute(
        update(blobs).where(blobs.c.digest == digest).values(collecting_at=None, touched_at=now)
    )


def session_row(conn: Connection, upload_id: str) -> Row[Any]:
    row = conn.execute(select(uploads).where(uploads.c.id == upload_id)).first()
    if row is None:
        raise UploadNotFound(f"upload {upload_id!r} does not exist or has expired")
    return row


def check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_FILE_SIZE:
        raise InvalidInput(f"blob size {size!r} is out of range")


class BoundedWriter:
    """Refuses to write past the session's declared size, so the store never holds more."""

    def __init__(self, inner: UploadWriter, offset: int, size: int) -> None:
        self._inner = inner
        self._offset = offset
        self._size = size

    def write(self, data: bytes | memoryview) -> None:
        if self._offset + len(data) > self._size:
            raise SizeMismatch(
                f"upload is declared as {self._size} bytes; this request goes past the end",
                expected=self._size,
            )
        self._inner.write(data)
        self._offset += len(data)

    def close(self) -> int:
        return self._inner.close()
