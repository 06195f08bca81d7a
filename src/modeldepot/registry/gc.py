"""Garbage collection: expired uploads, orphaned staging areas, unreferenced blobs.

A blob is collected only when no version (live or soft-deleted) lists it and nothing
touched it for the grace period: every missing-blob check refreshes ``touched_at``, so
a push in flight never loses a blob it relies on, and a commit share-locks the blobs
it claims, so none is marked before the version that references it lands. Blobs are marked
before their bytes go (see ``_sweep_unreferenced``), and files without any row are
removed once older than the grace period.

Whatever the grace period, nothing an upload owns is touched. A session owns its staged
bytes and the blob of its digest: sessions are recorded before their first byte is
staged and forgotten in the transaction that records their blob, so each sweep lists
the files first and reads the owners after: a file it lists either has its owner in
that read, or its blob row. A single-request upload owns its staging area, and the blob
file it stores until it records it, by a lease: files without an owner in the database
are removed only once untouched for the upload expiry, like an abandoned session.

On a full disk the sweeps that free bytes without writing to the database run first;
a blob that cannot be marked for lack of room is deleted before its row (see
``_collect_unmarked``).

A collection is the registry admin's (``registry:admin``; the ``gc`` command runs as
``Context.system``). It works in many short transactions, so that no lock is held
for long, each a unit of work in the collector's name; the last logs ``gc.run`` with
what was deleted. A blob's links to model namespaces (``registry/reach.py``) go with
its row.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, delete, exists, select, update

from modeldepot.blobstore.base import BlobStore, LocalDisk
from modeldepot.db.locks import GARBAGE_COLLECTION, try_exclusive
from modeldepot.db.tables import blob_links, blobs, uploads, version_files
from modeldepot.db.types import utcnow
from modeldepot.errors import InsufficientStorage
from modeldepot.registry.unit import Units
from modeldepot.registry.uploads import UploadService
from modeldepot.schemas import GarbageReport
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


class GarbageCollector:
    def __init__(
        self, units: Units, store: BlobStore, uploads_service: UploadService, *, grace_seconds: int
    ) -> None:
        self.units = units
        self.db = units.db
        self.store = store
        self.uploads = uploads_service
        self.grace = timedelta(seconds=grace_seconds)

    def collect(
        self,
        ctx: Context,
        *,
        dry_run: bool = False,
        grace_seconds: float | None = None,
        stale_upload_seconds: float | None = None,
    ) -> GarbageReport:
        """Remove garbage older than the grace period; with ``dry_run`` only count it.

        ``stale_upload_seconds`` reclaims abandoned upload bytes sooner: sessions
        untouched that long are expired (instead of after the upload expiry), and
        staging areas no session owns go once that old (instead of the grace period).

        One collection at a time: on PostgreSQL, while another process collects, this
        returns at once with ``skipped`` set. A dry run only counts, unlocked, and logs
        nothing; a run logs ``gc.run`` (expired sessions are logged each as
        ``upload.abandon``). Forbidden unless ``ctx`` is the registry admin's.
        """
        ctx.access.require(Permission.REGISTRY_ADMIN)
        stale = None if stale_upload_seconds is None else timedelta(seconds=stale_upload_seconds)
        if dry_run:
            return self._collect(ctx, dry_run=True, grace_seconds=grace_seconds, stale=stale)
        with try_exclusive(self.db.engine, GARBAGE_COLLECTION) as held:
            if not held:
                return GarbageReport(
                    dry_run=False,
                    blobs_deleted=0,
                    bytes_freed=0,
                    uploads_expired=0,
                    staged_removed=0,
                    skipped=True,
                )
            report = self._collect(ctx, dry_run=False, grace_seconds=grace_seconds, stale=stale)
        with self.units.write(ctx) as uow:
            uow.record(
                "gc.run",
                "blobs",
                after={
                    "blobs_deleted": report.blobs_deleted,
                    "bytes_freed": report.bytes_freed,
                    "uploads_expired": report.uploads_expired,
                    "staged_removed": report.staged_removed,
                },
            )
        return report

    def _collect(
        self,
        ctx: Context,
        *,
        dry_run: bool,
        grace_seconds: float | None,
        stale: timedelta | None,
    ) -> GarbageReport:
        now = utcnow()
        cutoff = now - (self.grace if grace_seconds is None else timedelta(seconds=grace_seconds))
        # Files with no owner in the database may be a request's in flight (its lease):
        # they go once untouched for the upload expiry, or for ``stale`` when asked.
        unowned = now - (self.uploads.expiry if stale is None else stale)
        # First what frees bytes without writing to the database, which may be full.
        staged = self._sweep_staged(unowned, dry_run=dry_run)
        orphans, orphan_bytes = self._sweep_unrecorded(unowned, dry_run=dry_run)
        expired = self.uploads.expire_uploads(ctx, now=now, dry_run=dry_run, older_than=stale)
        deleted, freed = self._sweep_unreferenced(ctx, cutoff, dry_run=dry_run)
        return GarbageReport(
            dry_run=dry_run,
            blobs_deleted=deleted + orphans,
            bytes_freed=freed + orphan_bytes,
            uploads_expired=expired,
            staged_removed=staged,
        )

    def _sweep_staged(self, cutoff: datetime, *, dry_run: bool) -> int:
        """Remove staging areas no session owns, untouched since ``cutoff``. Listed
        before the sessions are read: a session's row is written before its staging
        area, so it is in that read."""
        listed = list(self.store.iter_staged())
        with self.db.read() as conn:
            live = set(conn.execute(select(uploads.c.id)).scalars())
        count = 0
        for staged in listed:
            if staged.upload_id in live or staged.modified_at >= cutoff:
                continue
            count += 1
            if not dry_run:
                self.store.abort_upload(staged.upload_id)
        return count

    def _sweep_unreferenced(
        self, ctx: Context, cutoff: datetime, *, dry_run: bool
    ) -> tuple[int, int]:
        """Collect unreferenced stale blobs in two phases, so no crash or race loses data.

        1. Mark each candidate (``collecting_at``) in its own transaction, re-checking
           that it is still stale and unreferenced. From then on missing-blob checks and
           commits treat it as absent; a new upload of the same bytes clears the mark.
        2. With the row locked, if it is still marked, delete the bytes, then the row.
           A crash in between leaves a marked row, which counts as absent and is
           finished by the next run.
        """
        unreferenced = ~exists().where(version_files.c.digest == blobs.c.digest)
        # An upload of the same bytes is under way: its session relies on this blob.
        unclaimed = ~exists().where(uploads.c.digest == blobs.c.digest)
        stale = blobs.c.touched_at < cutoff
        live = blobs.c.collecting_at.is_(None)
        with self.db.read() as conn:
            candidates = conn.execute(
                select(blobs.c.digest, blobs.c.size).where(stale, unreferenced, live)
            ).all()
        if dry_run:
            return len(candidates), sum(c.size for c in candidates)
        deleted = freed = 0
        for digest, size in candidates:
            try:
                with self.units.write(ctx) as uow:
                    uow.conn.execute(
                        update(blobs)
                        .where(blobs.c.digest == digest, stale, unreferenced, unclaimed, live)
                        .values(collecting_at=uow.now)
                    )
            except InsufficientStorage:
                if not self._shares_disk():
                    raise  # freeing blobs would not make room for the database
                if self._collect_unmarked(ctx, digest, stale & unreferenced & unclaimed & live):
                    deleted += 1
                    freed += size
        with self.db.read() as conn:
            doomed = conn.execute(
                select(blobs.c.digest, blobs.c.size).where(blobs.c.collecting_at.is_not(None))
            ).all()
        for digest, size in doomed:
            with self.units.write(ctx) as uow:
                conn = uow.conn
                marked = blobs.c.collecting_at.is_not(None)
                locked = select(blobs.c.digest).where(blobs.c.digest == digest, marked)
                if conn.dialect.name == "postgresql":
                    locked = locked.with_for_update()
                if conn.execute(locked).first() is None:
                    continue  # an upload revived it
                referenced = select(
                    exists().where(version_files.c.digest == digest)
                    | exists().where(uploads.c.digest == digest)
                )
                if conn.execute(referenced).scalar():
                    # A version claimed it, or a session relies on it: keep it, unmarked.
                    conn.execute(
                        update(blobs).where(blobs.c.digest == digest).values(collecting_at=None)
                    )
                    continue
                self.store.delete(digest)
                _forget_blob(conn, digest)
            deleted += 1
            freed += size
        return deleted, freed

    def _shares_disk(self) -> bool:
        """Whether deleting blobs makes room for the database (SQLite on their disk)."""
        directory = self.db.directory
        return (
            directory is not None
            and isinstance(self.store, LocalDisk)
            and os.stat(directory).st_dev == self.store.device()
        )

    def _collect_unmarked(
        self, ctx: Context, digest: str, collectable: ColumnElement[bool]
    ) -> bool:
        """Collect a blob without marking it first, for a database with no room to
        record the mark: with the row locked and still collectable, its bytes go first,
        which makes the room to delete the row. True if it was collected.

        A crash between the two leaves a row without bytes, as a mark would not; the
        database was full, so no other way frees anything.
        """
        with self.units.write(ctx) as uow:
            conn = uow.conn
            locked = select(blobs.c.digest).where(blobs.c.digest == digest, collectable)
            if conn.dialect.name == "postgresql":
                locked = locked.with_for_update()
            if conn.execute(locked).first() is None:
                return False
            self.store.delete(digest)
            _forget_blob(conn, digest)
        return True

    def _sweep_unrecorded(self, cutoff: datetime, *, dry_run: bool) -> tuple[int, int]:
        """Remove blob files with no row and no session expecting them, untouched since
        ``cutoff``. Listed before the rows are read: a file a session has just stored is
        recorded in the transaction that forgets the session, so that read sees one or
        the other."""
        listed = list(self.store.iter_blobs())
        with self.db.read() as conn:
            recorded = set(conn.execute(select(blobs.c.digest)).scalars())
            recorded.update(
                conn.execute(
                    select(uploads.c.digest).where(uploads.c.digest.is_not(None))
                ).scalars()
            )
        count = freed = 0
        for blob in listed:
            if blob.digest in recorded or blob.modified_at >= cutoff:
                continue
            count += 1
            freed += blob.size
            if not dry_run:
                self.store.delete(blob.digest)
        return count, freed


def _forget_blob(conn: Connection, digest: str) -> None:
    """Delete a collected blob's row and its links."""
    conn.execute(delete(blob_links).where(blob_links.c.digest == digest))
    conn.execute(delete(blobs).where(blobs.c.digest == digest))
