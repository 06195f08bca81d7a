"""BlobService: what a client may learn about stored blobs, and their bytes.

Before a push: which digests the server lacks (``missing_blobs``, which also shields
the ones it has from garbage collection for the grace period), and which large files,
by size and sample digest, it certainly lacks (``absent_files``, so they can be
streamed without hashing them first). Before a pull: URLs to read blobs straight from
a store clients can reach (``download_urls``). The bytes themselves: ``open_blob`` by
digest, ``open_file`` by a version's path; no face reads the store any other way.

Every answer is about the blobs the caller may read (``registry/reach.py``): any
other is missing, absent or not found, whether or not the store holds it. A client
then uploads it like any new blob; the upload is verified and linked to its model
(the store keeps one copy), and from then on the caller may use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from modeldepot.blobstore.base import BlobStore
from modeldepot.blobstore.presigned import PresignedStore
from modeldepot.db.tables import blobs, version_files
from modeldepot.db.types import utcnow
from modeldepot.digest import parse_digest
from modeldepot.errors import BlobNotFound, FileNotInVersion
from modeldepot.manifest import normalize_path
from modeldepot.refs import Ref, parse_ref
from modeldepot.registry.lookup import resolve_row
from modeldepot.registry.reach import BATCH, readable_blobs, readable_digest
from modeldepot.registry.staging import check_size
from modeldepot.registry.unit import Units
from modeldepot.sample import has_sample, sample_digest
from modeldepot.schemas import PresignedUrls
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob the caller was allowed to read: what a face needs to serve it."""

    digest: str
    size: int
    store: BlobStore
    filename: str | None = None
    media_type: str | None = None

    def read(self, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream its bytes (BlobNotFound before the first byte if it is gone since)."""
        return self.store.read(self.digest, offset, length)


class BlobService:
    def __init__(
        self,
        units: Units,
        store: BlobStore,
        *,
        presigned: PresignedStore | None = None,
        presign_expiry_seconds: int = 3600,
    ) -> None:
        self.units = units
        self.store = store
        # The store's presigned side, if it has one and the operator allows it.
        self.presigned = presigned
        self.presign_expiry = presign_expiry_seconds

    def missing_blobs(self, ctx: Context, digests: list[str]) -> list[str]:
        """The subset of ``digests`` the caller cannot read (not stored, or stored only
        for namespaces it may not read), in the order given, without repeats. Those it
        can read are kept from garbage collection for the grace period."""
        wanted = list(dict.fromkeys(parse_digest(d) for d in digests))
        found: set[str] = set()
        with self.units.write(ctx) as uow:
            readable = readable_digest(ctx.access, blobs.c.digest)
            for start in range(0, len(wanted), BATCH):
                batch = sorted(wanted[start : start + BATCH])
                result = uow.conn.execute(
                    update(blobs)
                    .where(blobs.c.digest.in_(batch), blobs.c.collecting_at.is_(None), readable)
                    .values(touched_at=uow.now)
                    .returning(blobs.c.digest)
                )
                found.update(result.scalars())
        return [d for d in wanted if d not in found]

    def absent_files(self, ctx: Context, files: list[tuple[int, str]]) -> list[int]:
        """Which of these files, given as (size, sample digest), no blob the caller may
        read matches: the server certainly lacks them for the caller. Positions in
        ``files``, in order.

        Files too small to have a sample are never reported absent. Stored blobs whose
        sample is not known yet get it computed (read from the store) and recorded.
        """
        for size, sample in files:
            check_size(size)
            parse_digest(sample)
        sizes = sorted({size for size, _ in files if has_sample(size)})
        known: dict[int, set[str]] = {size: set() for size in sizes}
        unsampled: list[tuple[str, int]] = []
        with self.units.read(ctx) as reading:
            readable = readable_digest(ctx.access, blobs.c.digest)
            for start in range(0, len(sizes), BATCH):
                rows = reading.conn.execute(
                    select(blobs.c.digest, blobs.c.size, blobs.c.sample).where(
                        blobs.c.size.in_(sizes[start : start + BATCH]),
                        blobs.c.collecting_at.is_(None),
                        readable,
                    )
                )
                for digest, size, sample in rows:
                    if sample is None:
                        unsampled.append((digest, size))
                    else:
                        known[size].add(sample)
        for digest, size in unsampled:
            sample = self._sample_stored(ctx, digest, size)
            if sample is not None:
                known[size].add(sample)
        return [
            index
            for index, (size, sample) in enumerate(files)
            if has_sample(size) and sample not in known[size]
        ]

    def _sample_stored(self, ctx: Context, digest: str, size: int) -> str | None:
        """Compute and record the sample digest of a stored blob; None if it is gone.
        A cache of the blob's own bytes, not a change anyone made: nothing is logged."""
        try:
            sample = sample_digest(
                size, lambda offset, length: self.store.read(digest, offset, length)
            )
        except (BlobNotFound, ValueError):
            return None  # collected meanwhile (or its bytes do not match its record)
        with self.units.write(ctx) as uow:
            uow.conn.execute(
                update(blobs)
                .where(blobs.c.digest == digest, blobs.c.sample.is_(None))
                .values(sample=sample)
            )
        return sample

    def download_urls(self, ctx: Context, digests: list[str]) -> PresignedUrls:
        """URLs to GET these blobs from the store directly.

        No URLs at all when the store cannot hand them out: the client then reads
        through the server. That is the ordinary answer of a server on a local store,
        asked once per pull, so it is not an error. BlobNotFound, listing them, for
        digests the caller cannot read (absent or not).
        """
        wanted = list(dict.fromkeys(parse_digest(d) for d in digests))
        if self.presigned is None:
            return PresignedUrls(urls={}, expires_at=utcnow())
        with self.units.read(ctx) as reading:
            stored = readable_blobs(reading.conn, ctx.access, wanted)
        missing = [d for d in wanted if d not in stored]
        if missing:
            raise BlobNotFound(f"{len(missing)} blob(s) are not stored", missing=missing[:1000])
        expires_at = utcnow() + timedelta(seconds=self.presign_expiry)
        urls = {d: self.presigned.presigned_get(d, self.presign_expiry) for d in wanted}
        return PresignedUrls(urls=urls, expires_at=expires_at)

    def open_blob(self, ctx: Context, digest: str) -> StoredBlob:
        """The blob ``digest``, if the caller may read it; else BlobNotFound, exactly as
        for a blob the store lacks."""
        digest = parse_digest(digest)
        with self.units.read(ctx) as reading:
            readable = bool(readable_blobs(reading.conn, ctx.access, [digest]))
        return self._opened(digest, readable)

    def open_file(self, ctx: Context, ref: Ref | str, path: str) -> StoredBlob:
        """The file at ``path`` of the version ``ref`` names, for a caller who may read
        the model (else ModelNotFound, as if it did not exist); FileNotInVersion if the
        version lists no such path."""
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        normalized = normalize_path(path)
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, ref.name)
            model, row = resolve_row(reading.conn, ref, include_deleted=False)
            found = reading.conn.execute(
                select(version_files).where(
                    version_files.c.version_id == row.id, version_files.c.path == normalized
                )
            ).first()
        if found is None:
            raise FileNotInVersion(f"{model.name}:{row.number} has no file {normalized!r}")
        blob = self._opened(found.digest, True)
        return StoredBlob(
            blob.digest, blob.size, self.store, filename=found.path, media_type=found.media_type
        )

    def _opened(self, digest: str, readable: bool) -> StoredBlob:
        size = self.store.stat(digest) if readable else None
        if size is None:
            raise BlobNotFound(f"blob {digest} does not exist")
        return StoredBlob(digest, size, self.store)
