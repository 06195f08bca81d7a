"""UploadService: which blobs are missing, and resumable verified blob uploads.

Protocol (modelled on the OCI distribution spec):

1. ``missing_blobs(digests)`` names the blobs the server lacks (and shields the ones it
   has from garbage collection for the grace period).
2. For each missing blob, ``create_upload(digest, size)`` opens a session; bytes are
   appended in order through ``open_writer(id, offset)``; after a broken connection
   the client reads ``get_upload(id).offset`` and continues from there.
3. ``complete_upload(id)`` verifies size and sha256 and only then stores the blob
   under its digest and records it. A mismatch discards the bytes.
4. The version is committed by ``VersionService.create_version``.

A small blob can instead go up in one request (``begin_direct_upload`` then
``finish_direct_upload``): same verification, no session record, nothing to resume.

Sessions untouched for ``upload_expiry_seconds`` are swept by ``expire_uploads``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from modeldepot.actor import Actor
from modeldepot.blobstore.base import BlobStore, UploadWriter
from modeldepot.db.engine import Database, upsert
from modeldepot.db.tables import blobs, uploads
from modeldepot.db.types import utcnow
from modeldepot.digest import parse_digest
from modeldepot.errors import (
    DigestMismatch,
    InvalidInput,
    SizeMismatch,
    UploadIncomplete,
    UploadNotFound,
)
from modeldepot.manifest import MAX_FILE_SIZE
from modeldepot.schemas import UploadRead

BATCH = 500


class UploadService:
    def __init__(self, db: Database, store: BlobStore, *, expiry_seconds: int) -> None:
        self.db = db
        self.store = store
        self.expiry = timedelta(seconds=expiry_seconds)

    def missing_blobs(self, digests: list[str]) -> list[str]:
        """The subset of ``digests`` not stored, in the order given, without repeats."""
        wanted = list(dict.fromkeys(parse_digest(d) for d in digests))
        found: set[str] = set()
        now = utcnow()
        with self.db.write() as conn:
            for start in range(0, len(wanted), BATCH):
                batch = sorted(wanted[start : start + BATCH])
                result = conn.execute(
                    update(blobs)
                    .where(blobs.c.digest.in_(batch), blobs.c.collecting_at.is_(None))
                    .values(touched_at=now)
                    .returning(blobs.c.digest)
                )
                found.update(result.scalars())
        return [d for d in wanted if d not in found]

    def create_upload(self, digest: str, size: int, actor: Actor) -> UploadRead:
        parse_digest(digest)
        _check_size(size)
        upload_id = uuid.uuid4().hex
        self.store.begin_upload(upload_id)
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(
                insert(uploads).values(
                    id=upload_id,
                    digest=digest,
                    size=size,
                    created_at=now,
                    created_by=actor.name,
                    touched_at=now,
                )
            )
        return self._read(upload_id, digest, size, now, now, offset=0, complete=False)

    def begin_direct_upload(self, digest: str, size: int) -> tuple[str, UploadWriter]:
        """Stage a blob sent whole in one request: no session record, nothing to resume.

        Finish with ``finish_direct_upload``; if the request dies, the staged bytes are
        swept by garbage collection after the grace period.
        """
        parse_digest(digest)
        _check_size(size)
        upload_id = uuid.uuid4().hex
        self.store.begin_upload(upload_id)
        return upload_id, _BoundedWriter(self.store.open_upload(upload_id, 0), 0, size)

    def finish_direct_upload(self, upload_id: str, digest: str, size: int) -> UploadRead:
        """Verify and store a directly uploaded blob (see ``complete_upload``)."""
        received = self.store.staged_size(upload_id)
        if received < size:
            self.store.abort_upload(upload_id)
            raise SizeMismatch(
                f"received {received} of {size} bytes", expected=size, actual=received
            )
        self.store.finish_upload(upload_id, digest, size)
        now = utcnow()
        with self.db.write() as conn:
            self._record_stored(conn, digest, size, now)
        return self._read(upload_id, digest, size, now, now, offset=size, complete=True)

    def discard_direct_upload(self, upload_id: str) -> None:
        """Drop what a failed direct upload staged. Idempotent."""
        self.store.abort_upload(upload_id)

    def get_upload(self, upload_id: str) -> UploadRead:
        with self.db.read() as conn:
            row = _session(conn, upload_id)
        offset = self.store.staged_size(upload_id)
        return self._read(
            row.id,
            row.digest,
            row.size,
            row.created_at,
            row.touched_at,
            offset=offset,
            complete=False,
        )

    def open_writer(self, upload_id: str, offset: int) -> UploadWriter:
        """A writer appending at ``offset``; refuses bytes beyond the declared size."""
        with self.db.write() as conn:
            row = _session(conn, upload_id)
            conn.execute(
                update(uploads).where(uploads.c.id == upload_id).values(touched_at=utcnow())
            )
        return _BoundedWriter(self.store.open_upload(upload_id, offset), offset, row.size)

    def complete_upload(self, upload_id: str) -> UploadRead:
        """Verify and store the blob.

        UploadIncomplete (bytes kept) if not every byte arrived yet; DigestMismatch ends
        the session and discards its bytes.
        """
        with self.db.read() as conn:
            row = _session(conn, upload_id)
        try:
            received = self.store.staged_size(upload_id)
        except UploadNotFound:
            # A crash after the blob was stored but before it was recorded: finish it.
            if self.store.stat(row.digest) != row.size:
                raise
            received = row.size
        if received < row.size:
            # Keep the bytes: the client finishes sending them and completes again.
            raise UploadIncomplete(
                f"upload {upload_id} has {received} of {row.size} bytes", offset=received
            )
        try:
            self.store.finish_upload(upload_id, row.digest, row.size)
        except (DigestMismatch, SizeMismatch):
            with self.db.write() as conn:
                conn.execute(delete(uploads).where(uploads.c.id == upload_id))
            raise
        now = utcnow()
        with self.db.write() as conn:
            self._record_stored(conn, row.digest, row.size, now)
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
        return self._read(
            row.id, row.digest, row.size, row.created_at, now, offset=row.size, complete=True
        )

    def _record_stored(self, conn: Connection, digest: str, size: int, now: datetime) -> None:
        """Record a blob just stored, and check it is still there once its row is locked.

        Garbage collection deletes a blob's row and file in one transaction holding the
        row's lock. Recording takes that lock too, so if a collection removed the file
        between our store and our record, we see it here and refuse: the client sends
        the blob again.
        """
        record_blob(conn, digest, size, now)
        if self.store.stat(digest) != size:
            raise UploadNotFound(
                f"blob {digest} was garbage-collected while it was uploaded; upload it again"
            )

    def abort_upload(self, upload_id: str) -> None:
        with self.db.write() as conn:
            _session(conn, upload_id)
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
        self.store.abort_upload(upload_id)

    def expire_uploads(self, *, now: datetime | None = None, dry_run: bool = False) -> int:
        """Discard sessions untouched for the expiry period; return how many."""
        cutoff = (now or utcnow()) - self.expiry
        with self.db.read() as conn:
            expired = (
                conn.execute(select(uploads.c.id).where(uploads.c.touched_at < cutoff))
                .scalars()
                .all()
            )
        if dry_run:
            return len(expired)
        for upload_id in expired:
            with self.db.write() as conn:
                gone = conn.execute(
                    delete(uploads).where(uploads.c.id == upload_id, uploads.c.touched_at < cutoff)
                ).rowcount
            if gone:
                self.store.abort_upload(upload_id)
        return len(expired)

    def _read(
        self,
        upload_id: str,
        digest: str,
        size: int,
        created_at: datetime,
        touched_at: datetime,
        *,
        offset: int,
        complete: bool,
    ) -> UploadRead:
        return UploadRead(
            id=upload_id,
            digest=digest,
            size=size,
            offset=offset,
            complete=complete,
            created_at=created_at,
            expires_at=touched_at + self.expiry,
        )


def record_blob(conn: Connection, digest: str, size: int, now: datetime) -> None:
    """Record a verified blob (or refresh it if already recorded)."""
    statement = upsert(conn, blobs).values(digest=digest, size=size, created_at=now, touched_at=now)
    refresh = {"touched_at": now, "collecting_at": None}  # an upload revives a doomed blob
    conn.execute(statement.on_conflict_do_update(index_elements=["digest"], set_=refresh))


def _session(conn: Connection, upload_id: str) -> Row[Any]:
    row = conn.execute(select(uploads).where(uploads.c.id == upload_id)).first()
    if row is None:
        raise UploadNotFound(f"upload {upload_id!r} does not exist or has expired")
    return row


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_FILE_SIZE:
        raise InvalidInput(f"blob size {size!r} is out of range")


class _BoundedWriter:
    """Refuses to write past the session's declared size, so the store never holds more."""

    def __init__(self, inner: UploadWriter, offset: int, size: int) -> None:
        self._inner = inner
        self._offset = offset
        self._size = size

    def write(self, data: bytes) -> None:
        if self._offset + len(data) > self._size:
            raise SizeMismatch(
                f"upload is declared as {self._size} bytes; this request goes past the end",
                expected=self._size,
            )
        self._inner.write(data)
        self._offset += len(data)

    def close(self) -> int:
        return self._inner.close()
