"""UploadService: resumable, verified blob uploads.

Protocol (modelled on the OCI distribution spec):

1. ``BlobService.missing_blobs(ctx, digests)`` names the blobs the caller lacks: not
   stored, or stored only for namespaces it may not read (and shields the ones it
   has from garbage collection for the grace period).
2. For each missing blob, ``create_upload(ctx, digest, size, model=...)`` opens a
   session for a model the caller may push to; bytes are appended in order through
   ``open_writer(ctx, id, offset)``; after a broken connection the client reads
   ``get_upload(ctx, id).offset`` and continues from there.
3. ``complete_upload(ctx, id)`` verifies size and sha256 and only then stores the
   blob under its digest, records it, links it to the session's model and logs
   ``upload.complete``. A mismatch discards the bytes. Bytes the store holds already
   are verified all the same, then linked: the store keeps one copy.
4. The version is committed by ``VersionService.create_version``.

A session belongs to the principal that opened it (``Context.quota_key``): to anyone
else it does not exist. Cancelled and expired sessions are logged (``upload.abandon``).

A *streamed* upload skips the client's hashing pass for a large file the server
certainly lacks: ``BlobService.absent_files`` compares the file's size and sample digest
(``modeldepot.sample``) with the stored blobs'; if none matches, the client opens a
session without a digest, hashes the file while sending it, and names the digest in
``complete_upload(id, digest)``, which verifies it like any other.

A small blob can instead go up in one request (``begin_direct_upload`` then
``finish_direct_upload``): same verification and record, no session row, nothing to
resume.

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

from sqlalchemy import Row, delete, func, insert, select, update

from modeldepot.blobstore.base import BlobStore, UploadWriter
from modeldepot.blobstore.presigned import PresignedStore, part_count, part_size_for
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
from modeldepot.registry.reach import readable_blobs
from modeldepot.registry.staging import (
    BoundedWriter,
    abandoned,
    check_size,
    owned_session,
    presigned_progress,
    record_blob,
    record_stored,
    require_upload,
    revive,
    upload_read,
)
from modeldepot.registry.unit import Units
from modeldepot.schemas import PresignedUpload, PresignedUrls, UploadRead
from modeldepot.security.context import Context

# Who expires abandoned sessions in the background, as the audit log names it.
SWEEPER = Context.system("upload-sweeper")


class UploadService:
    def __init__(
        self,
        units: Units,
        store: BlobStore,
        *,
        expiry_seconds: int,
        presigned: bool = False,
        presign_expiry_seconds: int = 3600,
        max_staged_bytes: int = MAX_FILE_SIZE,
    ) -> None:
        self.units = units
        self.store = store
        self.expiry = timedelta(seconds=expiry_seconds)
        self.admission = UploadAdmission(units.db, max_staged_bytes)
        # The store's presigned side, if it has one and the operator allows it.
        self.presigned: PresignedStore | None = (
            store if presigned and isinstance(store, PresignedStore) else None
        )
        self.presign_expiry = presign_expiry_seconds

    def create_upload(
        self,
        ctx: Context,
        digest: str | None,
        size: int,
        *,
        model: str | None = None,
        presigned: bool = False,
        quota: UploadQuota | None = None,
    ) -> UploadRead:
        """Open a session for ``model`` (see ``require_upload``). With ``presigned``
        (granted only if the store offers it and the blob is not empty) the client sends
        the bytes to ``part_urls`` instead.

        Without ``digest`` (a streamed upload) the digest comes with ``complete_upload``.
        Refused, with nothing staged, if it would pass ``quota`` (BlobTooLarge,
        TooManyUploads) or the server's staged bytes (StagingFull).
        """
        if digest is not None:
            digest = parse_digest(digest)
        check_size(size)
        require_upload(ctx.access, model)
        refuse_oversized(quota, size)
        part_size = part_size_for(size) if presigned and size and self.presigned else None
        upload_id, now = self._open_session(ctx, digest, size, model, part_size, quota)
        plan = None
        if part_size is not None:
            plan = PresignedUpload(
                part_size=part_size, part_count=part_count(size, part_size), parts_done=[]
            )
        return upload_read(
            self.expiry, upload_id, digest, size, now, now, offset=0, complete=False, presigned=plan
        )

    def part_urls(self, ctx: Context, upload_id: str, numbers: list[int]) -> PresignedUrls:
        """URLs to PUT the given parts of a presigned session (1-based part numbers)."""
        with self.units.write(ctx) as uow:
            row = owned_session(uow.conn, ctx, upload_id)
            uow.conn.execute(
                update(uploads).where(uploads.c.id == upload_id).values(touched_at=uow.now)
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
        ctx: Context,
        digest: str | None,
        size: int,
        model: str | None,
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
        with self.units.write(ctx) as uow:
            self.admission.check_session(uow.conn, ctx.quota_key, quota, size)
            uow.conn.execute(
                insert(uploads).values(
                    id=upload_id,
                    digest=digest,
                    size=size,
                    created_at=uow.now,
                    created_by=uow.ctx.name,
                    touched_at=uow.now,
                    part_size=part_size,
                    client=ctx.quota_key,
                    model=model,
                )
            )
            if digest is not None:
                revive(uow.conn, digest, uow.now)
            now = uow.now
        try:
            self.store.begin_upload(upload_id)
        except BaseException:
            self._forget(ctx, upload_id)
            raise
        return upload_id, now

    def _forget(self, ctx: Context, upload_id: str, reason: str | None = None) -> None:
        """Free a session's staged bytes, then forget it, logging ``upload.abandon``
        with ``reason`` if given: on a full disk the bytes must go first, or the
        database has no room to record anything. Idempotent."""
        self.store.abort_upload(upload_id)
        with self.units.write(ctx) as uow:
            row = uow.conn.execute(
                delete(uploads)
                .where(uploads.c.id == upload_id)
                .returning(uploads.c.digest, uploads.c.size, uploads.c.model)
            ).first()
            if row is not None and reason is not None:
                abandoned(uow, upload_id, row, reason)

    def begin_direct_upload(
        self,
        ctx: Context,
        digest: str,
        size: int,
        *,
        model: str | None = None,
        quota: UploadQuota | None = None,
    ) -> tuple[str, UploadWriter]:
        """Stage a blob sent whole in one request for ``model``: no session record,
        nothing to resume.

        Finish with ``finish_direct_upload``, or ``discard_direct_upload`` if the
        request fails. It counts as an open upload of the caller until then, and is
        refused under the same limits as a session. No database write: the staging
        area is leased to the request by its modification time, which every write
        renews; garbage collection leaves it alone until it is untouched for the upload
        expiry, whatever its grace period, as it does an abandoned session's.
        """
        parse_digest(digest)
        check_size(size)
        require_upload(ctx.access, model)
        upload_id = uuid.uuid4().hex
        self.admission.admit_direct(upload_id, ctx.quota_key, quota, size)
        try:
            self.store.begin_upload(upload_id)
            return upload_id, BoundedWriter(self.store.open_upload(upload_id, 0), 0, size)
        except BaseException:
            self.admission.release_direct(upload_id)
            raise

    def finish_direct_upload(
        self, ctx: Context, upload_id: str, digest: str, size: int, *, model: str | None = None
    ) -> UploadRead:
        """Verify and store a directly uploaded blob (see ``complete_upload``)."""
        self.admission.release_direct(upload_id)
        received = self.store.staged_size(upload_id)
        if received < size:
            self.store.abort_upload(upload_id)
            raise SizeMismatch(
                f"received {received} of {size} bytes", expected=size, actual=received
            )
        if self.store.stat(digest) == size:
            # Stored already: our bytes are verified, then dropped, while the blob's row
            # is held, so no collection removes the stored copy once ours is gone (one
            # removing it first leaves ours stored instead). Small blobs: a short hold.
            with self.units.write(ctx) as uow:
                record_blob(uow.conn, digest, size, uow.now)
                self.store.finish_upload(upload_id, digest, size)
                record_stored(uow, self.store, digest, size, model)
                now = uow.now
        else:
            # A new file no row owns yet is the request's by its lease: collections
            # leave it alone until it is recorded.
            self.store.finish_upload(upload_id, digest, size)
            with self.units.write(ctx) as uow:
                record_stored(uow, self.store, digest, size, model)
                now = uow.now
        return upload_read(
            self.expiry, upload_id, digest, size, now, now, offset=size, complete=True
        )

    def discard_direct_upload(self, ctx: Context, upload_id: str) -> None:
        """Drop what the caller's failed direct upload staged (an upload that never
        completed is no change: nothing is logged). Idempotent."""
        self.admission.release_direct(upload_id)
        self.store.abort_upload(upload_id)

    def get_upload(self, ctx: Context, upload_id: str) -> UploadRead:
        with self.units.read(ctx) as reading:
            row = owned_session(reading.conn, ctx, upload_id)
        plan = None
        offset = self.store.staged_size(upload_id)
        if row.part_size is not None:
            plan = presigned_progress(self._presigned_store(), row)
        return upload_read(
            self.expiry,
            row.id,
            row.digest,
            row.size,
            row.created_at,
            row.touched_at,
            offset=offset,
            complete=False,
            presigned=plan,
        )

    def _presigned_store(self) -> PresignedStore:
        if isinstance(self.store, PresignedStore):
            return self.store
        raise PresignedUnavailable("this session was presigned, but the blob store is not")

    def open_writer(
        self, ctx: Context, upload_id: str, offset: int, length: int | None = None
    ) -> UploadWriter:
        """A writer appending at ``offset``; refuses bytes beyond the declared size.

        A wrong ``offset`` is refused first (UploadOffsetMismatch: the client resumes from
        the right one). With ``length`` (the bytes about to be sent), a request that would
        pass the declared size is then refused (SizeMismatch) before it writes anything.
        """
        with self.units.write(ctx) as uow:
            row = owned_session(uow.conn, ctx, upload_id)
            uow.conn.execute(
                update(uploads).where(uploads.c.id == upload_id).values(touched_at=uow.now)
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

    def complete_upload(
        self, ctx: Context, upload_id: str, digest: str | None = None
    ) -> UploadRead:
        """Verify and store the blob, link it to the session's model, log it.

        ``digest`` is required for a session opened without one, and must equal the
        declared one otherwise. UploadIncomplete (bytes kept) if not every byte arrived
        yet; DigestMismatch ends the session and discards its bytes. Bytes the store
        holds already are verified all the same (the session keeps the stored copy from
        any collection meanwhile), then dropped.
        """
        with self.units.read(ctx) as reading:
            row = owned_session(reading.conn, ctx, upload_id)
        digest = self._settle_digest(ctx, row, digest)
        try:
            received = self.store.staged_size(upload_id)
        except UploadNotFound:
            received = self._lost_staging(ctx, upload_id, digest, row.size)
        if received < row.size:
            # Keep the bytes: the client finishes sending them and completes again.
            raise UploadIncomplete(
                f"upload {upload_id} has {received} of {row.size} bytes", offset=received
            )
        try:
            self.store.finish_upload(upload_id, digest, row.size)
        except (DigestMismatch, SizeMismatch):
            self._forget(ctx, upload_id)
            raise
        with self.units.write(ctx) as uow:
            record_stored(uow, self.store, digest, row.size, row.model, upload_id=upload_id)
            uow.conn.execute(delete(uploads).where(uploads.c.id == upload_id))
            now = uow.now
        return upload_read(
            self.expiry,
            row.id,
            digest,
            row.size,
            row.created_at,
            now,
            offset=row.size,
            complete=True,
        )

    def _lost_staging(self, ctx: Context, upload_id: str, digest: str, size: int) -> int:
        """The bytes received by a session whose staging area is gone. Either a
        completion stored them and crashed before recording them, or they were
        discarded (a mismatch, a full disk) before the session was: nothing tells which,
        so the stored blob counts only if the caller may read it anyway (everything
        under a digest was verified by whoever stored it). Otherwise the session is
        dropped, and UploadNotFound has the client send the bytes again."""
        known = ctx.access.reads_everything
        if not known:
            with self.units.read(ctx) as reading:
                known = bool(readable_blobs(reading.conn, ctx.access, [digest]))
        if known and self.store.stat(digest) == size:
            return size
        self._forget(ctx, upload_id)
        raise UploadNotFound(f"upload {upload_id} has no staged bytes left: send them again")

    def _settle_digest(self, ctx: Context, row: Row[Any], digest: str | None) -> str:
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
        with self.units.write(ctx) as uow:
            uow.conn.execute(
                update(uploads)
                .where(uploads.c.id == row.id, uploads.c.digest.is_(None))
                .values(digest=digest)
            )
            revive(uow.conn, digest, uow.now)  # as when a session opens with its digest
            stored = uow.conn.execute(
                select(uploads.c.digest).where(uploads.c.id == row.id)
            ).scalar()
        if stored is None:
            raise UploadNotFound(f"upload {row.id!r} does not exist or has expired")
        if stored != digest:
            raise InvalidInput(f"upload {row.id} was completed for {stored}; not for {digest}")
        return digest

    def abort_upload(self, ctx: Context, upload_id: str) -> None:
        """Cancel a session (logged); works on a full disk (its bytes are freed first)."""
        with self.units.read(ctx) as reading:
            owned_session(reading.conn, ctx, upload_id)
        self._forget(ctx, upload_id, "cancelled")

    def count_sessions(self) -> int:
        """Upload sessions open now, of every server process (they live in the
        database): a gauge for operators, which names no session nor anyone's."""
        with self.units.db.read() as conn:
            return conn.execute(select(func.count()).select_from(uploads)).scalar_one()

    def expire_uploads(
        self,
        ctx: Context,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        older_than: timedelta | None = None,
    ) -> int:
        """Discard sessions untouched for the expiry period (or ``older_than``, to reclaim
        abandoned bytes sooner), each logged as ``upload.abandon`` by ``ctx`` (the
        sweeper's or the collector's); return how many.

        Safe to run from several processes at once: on PostgreSQL, while one sweeps,
        the others skip the round and return 0. A dry run only counts, unlocked.
        """
        cutoff = (now or utcnow()) - (self.expiry if older_than is None else older_than)
        if dry_run:
            return self._expire(ctx, cutoff, dry_run=True)
        with try_exclusive(self.units.db.engine, UPLOAD_SWEEP) as held:
            return self._expire(ctx, cutoff, dry_run=False) if held else 0

    def _expire(self, ctx: Context, cutoff: datetime, *, dry_run: bool) -> int:
        with self.units.read(ctx) as reading:
            expired = (
                reading.conn.execute(select(uploads.c.id).where(uploads.c.touched_at < cutoff))
                .scalars()
                .all()
            )
        if dry_run:
            return len(expired)
        for upload_id in expired:
            with self.units.write(ctx) as uow:
                row = uow.conn.execute(
                    delete(uploads)
                    .where(uploads.c.id == upload_id, uploads.c.touched_at < cutoff)
                    .returning(uploads.c.digest, uploads.c.size, uploads.c.model)
                ).first()
                if row is not None:
                    abandoned(uow, upload_id, row, "expired")
            if row is not None:
                self.store.abort_upload(upload_id)
        return len(expired)
