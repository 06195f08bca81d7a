"""UploadService: resumable, verified blob uploads.

Protocol (modelled on the OCI distribution spec):

1. ``BlobService.missing_blobs(digests)`` names the blobs the server lacks (and
   shields the ones it has from garbage collection for the grace period).
2. For each missing blob, ``create_upload(digest, size)`` opens a session; bytes are
   appended in order through ``open_writer(id, offset)``; after a broken connection
   the client reads ``get_upload(id).offset`` and continues from there.
3. ``complete_upload(id)`` verifies size and sha256 and only then stores the blob
   under its digest and records it. A mismatch discards the bytes.
4. The version is committed by ``VersionService.create_version``.

A *streamed* upload skips the client's hashing pass for a large file the server
certainly lacks: ``BlobService.absent_files`` compares the file's size and sample digest
(``modeldepot.sample``) with the stored blobs'; if none matches, the client opens a
session without a digest, hashes the file while sending it, and names the digest in
``complete_upload(id, digest)``, which verifies it like any other.

A small blob can instead go up in one request (``begin_direct_upload`` then
``finish_direct_upload``): same verification, no session record, nothing to resume.

Every staged byte has an owner garbage collection can see. A session's is its row,
written before the staging area is created and removed in the transaction that records
the blob (or after its bytes are discarded). A single request's is a lease: its staging
area's modification time, renewed by each write and valid for the upload expiry, as
is a stored blob's file until the request records it. Collection never touches what
either owns, whatever its grace period.

With a store clients can reach (``PresignedStore``, e.g. S3) and presigned transfers
enabled, a session can be *presigned*: the client PUTs the blob's parts to URLs from
``part_urls`` straight into the session's staging area, then completes it as any
other (the store verifies and stores it). The server never relays those bytes.
Downloads likewise get URLs from ``BlobService.download_urls``. The session and its part size
live in the database, so any replica can hand out URLs or complete it.

Sessions untouched for ``upload_expiry_seconds`` are swept by ``expire_uploads``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from modeldepot.actor import Actor
from modeldepot.blobstore.base import BlobStore, UploadWriter
from modeldepot.blobstore.presigned import PresignedStore, part_count, part_size_for
from modeldepot.db.engine import Database
from modeldepot.db.locks import UPLOAD_SWEEP, try_exclusive
from modeldepot.db.tables import uploads
from modeldepot.db.types import utcnow
from modeldepot.digest import parse_digest
from modeldepot.errors import (
    DigestMismatch,
    InvalidInput,
    PresignedUnavailable,
    SizeMismatch,
    UploadIncomplete,
    UploadNotFound,
)
from modeldepot.manifest import MAX_FILE_SIZE
from modeldepot.registry.quota import UploadAdmission, UploadQuota, refuse_oversized
from modeldepot.registry.staging import (
    BoundedWriter,
    check_size,
    record_blob,
    revive,
    session_row,
)
from modeldepot.schemas import PresignedUpload, PresignedUrls, UploadRead


class UploadService:
    def __init__(
        self,
        db: Database,
        store: BlobStore,
        *,
        expiry_seconds: int,
        presigned: bool = False,
        presign_expiry_seconds: int = 3600,
        max_staged_bytes: int = MAX_FILE_SIZE,
    ) -> None:
        self.db = db
        self.store = store
        self.expiry = timedelta(seconds=expiry_seconds)
        self.admission = UploadAdmission(db, max_staged_bytes)
        # The store's presigned side, if it has one and the operator allows it.
        self.presigned: PresignedStore | None = (
            store if presigned and isinstance(store, PresignedStore) else None
        )
        self.presign_expiry = presign_expiry_seconds

    def create_upload(
        self,
        digest: str | None,
        size: int,
        actor: Actor,
        *,
        presigned: bool = False,
        quota: UploadQuota | None = None,
    ) -> UploadRead:
        """Open a session. With ``presigned`` (granted only if the store offers it and the
        blob is not empty) the client sends the bytes to ``part_urls`` instead.

        Without ``digest`` (a streamed upload) the digest comes with ``complete_upload``.
        Refused, with nothing staged, if it would pass ``quota`` (BlobTooLarge,
        TooManyUploads) or the server's staged bytes (StagingFull).
        """
        if digest is not None:
            digest = parse_digest(digest)
        check_size(size)
        refuse_oversized(quota, size)
        part_size = part_size_for(size) if presigned and size and self.presigned else None
        upload_id, now = self._open_session(digest, size, actor, part_size, quota)
        plan = None
        if part_size is not None:
            plan = PresignedUpload(
                part_size=part_size, part_count=part_count(size, part_size), parts_done=[]
            )
        return self._read(
            upload_id, digest, size, now, now, offset=0, complete=False, presigned=plan
        )

    def part_urls(self, upload_id: str, numbers: list[int]) -> PresignedUrls:
        """URLs to PUT the given parts of a presigned session (1-based part numbers)."""
        with self.db.write() as conn:
            row = session_row(conn, upload_id)
            conn.execute(
                update(uploads).where(uploads.c.id == upload_id).values(touched_at=utcnow())
            )
        if row.part_size is None:
            raise InvalidInput(f"upload {upload_id} is not a presigned session")
        store = self._presigned_store()
        count = part_count(row.size, row.part_size)
        bad = [n for n in numbers if isinstance(n, bool) or not 1 <= n <= count]
        if bad:
            raise InvalidInput(f"part numbers must be 1 to {count}; got {bad[:5]}")
        expires_at = utcnow() + timedelta(seconds=self.presign_expiry)
        urls = {}
        for n in dict.fromkeys(numbers):
            offset = (n - 1) * row.part_size
            length = min(row.part_size, row.size - offset)
            urls[str(n)] = store.presigned_put(upload_id, offset, self.presign_expiry, length)
        return PresignedUrls(urls=urls, expires_at=expires_at)

    def _open_session(
        self,
        digest: str | None,
        size: int,
        actor: Actor,
        part_size: int | None,
        quota: UploadQuota | None,
    ) -> tuple[str, datetime]:
        """Record a session, then create its staging area: the row exists before any
        staged byte, so garbage collection always sees who owns them (and skips them).

        The same transaction admits it under ``quota`` and the server's staged bytes, and
        revives a stored blob of this digest if a collection marked it: the collection
        then keeps it, or (PostgreSQL: it holds the row lock until it is done) has
        removed it before this session can find it.
        """
        upload_id = uuid.uuid4().hex
        now = utcnow()
        with self.db.write() as conn:
            self.admission.check_session(conn, quota, size)
            conn.execute(
                insert(uploads).values(
                    id=upload_id,
                    digest=digest,
                    size=size,
                    created_at=now,
                    created_by=actor.name,
                    touched_at=now,
                    part_size=part_size,
                    client=quota.client if quota else None,
                )
            )
            if digest is not None:
                revive(conn, digest, now)
        try:
            self.store.begin_upload(upload_id)
        except BaseException:
            self._drop_session(upload_id)
            raise
        return upload_id, now

    def _drop_session(self, upload_id: str) -> None:
        """Free a session's staged bytes, then forget it: on a full disk the bytes must
        go first, or the database has no room to record anything. Idempotent."""
        self.store.abort_upload(upload_id)
        with self.db.write() as conn:
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))

    def begin_direct_upload(
        self, digest: str, size: int, quota: UploadQuota | None = None
    ) -> tuple[str, UploadWriter]:
        """Stage a blob sent whole in one request: no session record, nothing to resume.

        Finish with ``finish_direct_upload``, or ``discard_direct_upload`` if the
        request fails. It counts as an open upload of the client until then, and is
        refused under the same limits as a session. No database write: the staging
        area is leased to the request by its modification time, which every write
        renews; garbage collection leaves it alone until it is untouched for the upload
        expiry, whatever its grace period, as it does an abandoned session's.
        """
        parse_digest(digest)
        check_size(size)
        upload_id = uuid.uuid4().hex
        self.admission.admit_direct(upload_id, quota, size)
        try:
            self.store.begin_upload(upload_id)
            return upload_id, BoundedWriter(self.store.open_upload(upload_id, 0), 0, size)
        except BaseException:
            self.admission.release_direct(upload_id)
            raise

    def finish_direct_upload(self, upload_id: str, digest: str, size: int) -> UploadRead:
        """Verify and store a directly uploaded blob (see ``complete_upload``)."""
        self.admission.release_direct(upload_id)
        received = self.store.staged_size(upload_id)
        if received < size:
            self.store.abort_upload(upload_id)
            raise SizeMismatch(
                f"received {received} of {size} bytes", expected=size, actual=received
            )
        now = utcnow()
        if self.store.stat(digest) == size and self._kept_stored(digest, size, now):
            self.store.abort_upload(upload_id)  # stored already: our copy is not needed
        else:
            self.store.finish_upload(upload_id, digest, size)
            with self.db.write() as conn:
                self._record_stored(conn, digest, size, now)
        return self._read(upload_id, digest, size, now, now, offset=size, complete=True)

    def _kept_stored(self, digest: str, size: int, now: datetime) -> bool:
        """Record a blob that is stored already, taking it back from any collection; False
        (nothing recorded) if a collection removed its bytes first, so the caller stores
        its own copy instead of discarding it and failing."""
        try:
            with self.db.write() as conn:
                self._record_stored(conn, digest, size, now)
        except UploadNotFound:
            return False
        return True

    def discard_direct_upload(self, upload_id: str) -> None:
        """Drop what a failed direct upload staged. Idempotent."""
        self.admission.release_direct(upload_id)
        self.store.abort_upload(upload_id)

    def get_upload(self, upload_id: str) -> UploadRead:
        with self.db.read() as conn:
            row = session_row(conn, upload_id)
        plan = None
        offset = self.store.staged_size(upload_id)
        if row.part_size is not None:
            plan = self._presigned_progress(row)
        return self._read(
            row.id,
            row.digest,
            row.size,
            row.created_at,
            row.touched_at,
            offset=offset,
            complete=False,
            presigned=plan,
        )

    def _presigned_progress(self, row: Row[Any]) -> PresignedUpload:
        """The session's plan with the parts received whole."""
        parts = self._presigned_store().staged_parts(row.id)
        count = part_count(row.size, row.part_size)
        done = [
            number
            for number in range(1, count + 1)
            if parts.get((number - 1) * row.part_size)
            == min(row.part_size, row.size - (number - 1) * row.part_size)
        ]
        return PresignedUpload(part_size=row.part_size, part_count=count, parts_done=done)

    def _presigned_store(self) -> PresignedStore:
        if isinstance(self.store, PresignedStore):
            return self.store
        raise PresignedUnavailable("this session was presigned, but the blob store is not")

    def open_writer(self, upload_id: str, offset: int, length: int | None = None) -> UploadWriter:
        """A writer appending at ``offset``; refuses bytes beyond the declared size.

        A wrong ``offset`` is refused first (UploadOffsetMismatch: the client resumes from
        the right one). With ``length`` (the bytes about to be sent), a request that would
        pass the declared size is then refused (SizeMismatch) before it writes anything.
        """
        with self.db.write() as conn:
            row = session_row(conn, upload_id)
            conn.execute(
                update(uploads).where(uploads.c.id == upload_id).values(touched_at=utcnow())
            )
        if row.part_size is not None:
            raise InvalidInput(
                f"upload {upload_id} is presigned: its parts go straight to the blob store"
            )
        writer = self.store.open_upload(upload_id, offset)
        if length is not None and offset + length > row.size:
            writer.close()  # nothing written: the session stays where it was
            raise SizeMismatch(
                f"upload is declared as {row.size} bytes; {length} bytes from offset {offset} "
                "go past the end",
                expected=row.size,
            )
        return BoundedWriter(writer, offset, row.size)

    def complete_upload(self, upload_id: str, digest: str | None = None) -> UploadRead:
        """Verify and store the blob.

        ``digest`` is required for a session opened without one, and must equal the
        declared one otherwise. UploadIncomplete (bytes kept) if not every byte arrived
        yet; DigestMismatch ends the session and discards its bytes.
        """
        with self.db.read() as conn:
            row = session_row(conn, upload_id)
        digest = self._settle_digest(row, digest)
        try:
            received = self.store.staged_size(upload_id)
        except UploadNotFound:
            # A crash after the blob was stored but before it was recorded: finish it.
            if self.store.stat(digest) != row.size:
                raise
            received = row.size
        if received < row.size:
            # Keep the bytes: the client finishes sending them and completes again.
            raise UploadIncomplete(
                f"upload {upload_id} has {received} of {row.size} bytes", offset=received
            )
        try:
            self.store.finish_upload(upload_id, digest, row.size)
        except (DigestMismatch, SizeMismatch):
            with self.db.write() as conn:
                conn.execute(delete(uploads).where(uploads.c.id == upload_id))
            raise
        now = utcnow()
        with self.db.write() as conn:
            self._record_stored(conn, digest, row.size, now)
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
        return self._read(
            row.id, digest, row.size, row.created_at, now, offset=row.size, complete=True
        )

    def _settle_digest(self, row: Row[Any], digest: str | None) -> str:
        """The digest a completion verifies against; a streamed session records the one
        its completion names (so that a completion retried after a crash finds it)."""
        if digest is not None:
            digest = parse_digest(digest)
        if row.digest is not None:
            if digest is not None and digest != row.digest:
                raise InvalidInput(
                    f"upload {row.id} was opened for {row.digest}; its completion names {digest}"
                )
            return str(row.digest)
        if digest is None:
            raise InvalidInput(
                f"upload {row.id} was opened without a digest: name it when completing"
            )
        with self.db.write() as conn:
            conn.execute(
                update(uploads)
                .where(uploads.c.id == row.id, uploads.c.digest.is_(None))
                .values(digest=digest)
            )
            revive(conn, digest, utcnow())  # as when a session opens with its digest
            stored = conn.execute(select(uploads.c.digest).where(uploads.c.id == row.id)).scalar()
        if stored is None:
            raise UploadNotFound(f"upload {row.id!r} does not exist or has expired")
        if stored != digest:
            raise InvalidInput(f"upload {row.id} was completed for {stored}; not for {digest}")
        return digest

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
        """Cancel a session; works on a full disk (its bytes are freed first)."""
        with self.db.read() as conn:
            session_row(conn, upload_id)
        self._drop_session(upload_id)

    def count_sessions(self) -> int:
        """Upload sessions open now, of every server process (they live in the database)."""
        with self.db.read() as conn:
            return conn.execute(select(func.count()).select_from(uploads)).scalar_one()

    def expire_uploads(
        self,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        older_than: timedelta | None = None,
    ) -> int:
        """Discard sessions untouched for the expiry period (or ``older_than``, to reclaim
        abandoned bytes sooner); return how many.

        Safe to run from several processes at once: on PostgreSQL, while one sweeps,
        the others skip the round and return 0. A dry run only counts, unlocked.
        """
        cutoff = (now or utcnow()) - (self.expiry if older_than is None else older_than)
        if dry_run:
            return self._expire(cutoff, dry_run=True)
        with try_exclusive(self.db.engine, UPLOAD_SWEEP) as held:
            return self._expire(cutoff, dry_run=False) if held else 0

    def _expire(self, cutoff: datetime, *, dry_run: bool) -> int:
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
        digest: str | None,
        size: int,
        created_at: datetime,
        touched_at: datetime,
        *,
        offset: int,
        complete: bool,
        presigned: PresignedUpload | None = None,
    ) -> UploadRead:
        return UploadRead(
            id=upload_id,
            digest=digest,
            size=size,
            offset=offset,
            complete=complete,
            created_at=created_at,
            expires_at=touched_at + self.expiry,
            presigned=presigned,
        )
