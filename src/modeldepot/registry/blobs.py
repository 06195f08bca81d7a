"""BlobService: what a client asks about stored blobs around a transfer.

Before a push: which digests the server lacks (``missing_blobs``, which also shields
the ones it has from garbage collection for the grace period), and which large files,
by size and sample digest, it certainly lacks (``absent_files``, so they can be
streamed without hashing them first). Before a pull: URLs to read blobs straight from
a store clients can reach (``download_urls``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from modeldepot.blobstore.base import BlobStore
from modeldepot.blobstore.presigned import PresignedStore
from modeldepot.db.engine import Database
from modeldepot.db.tables import blobs
from modeldepot.db.types import utcnow
from modeldepot.digest import parse_digest
from modeldepot.errors import BlobNotFound
from modeldepot.registry.staging import BATCH, check_size
from modeldepot.sample import has_sample, sample_digest
from modeldepot.schemas import PresignedUrls


class BlobService:
    def __init__(
        self,
        db: Database,
        store: BlobStore,
        *,
        presigned: PresignedStore | None = None,
        presign_expiry_seconds: int = 3600,
    ) -> None:
        self.db = db
        self.store = store
        # The store's presigned side, if it has one and the operator allows it.
        self.presigned = presigned
        self.presign_expiry = presign_expiry_seconds

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

    def absent_files(self, files: list[tuple[int, str]]) -> list[int]:
        """Which of these files, given as (size, sample digest), no stored blob matches:
        the server certainly lacks them. Positions in ``files``, in order.

        Files too small to have a sample are never reported absent. Stored blobs whose
        sample is not known yet get it computed (read from the store) and recorded.
        """
        for size, sample in files:
            check_size(size)
            parse_digest(sample)
        sizes = sorted({size for size, _ in files if has_sample(size)})
        known: dict[int, set[str]] = {size: set() for size in sizes}
        unsampled: list[tuple[str, int]] = []
        with self.db.read() as conn:
            for start in range(0, len(sizes), BATCH):
                rows = conn.execute(
                    select(blobs.c.digest, blobs.c.size, blobs.c.sample).where(
                        blobs.c.size.in_(sizes[start : start + BATCH]),
                        blobs.c.collecting_at.is_(None),
                    )
                )
                for digest, size, sample in rows:
                    if sample is None:
                        unsampled.append((digest, size))
                    else:
                        known[size].add(sample)
        for digest, size in unsampled:
            sample = self._sample_stored(digest, size)
            if sample is not None:
                known[size].add(sample)
        return [
            index
            for index, (size, sample) in enumerate(files)
            if has_sample(size) and sample not in known[size]
        ]

    def _sample_stored(self, digest: str, size: int) -> str | None:
        """Compute and record the sample digest of a stored blob; None if it is gone."""
        try:
            sample = sample_digest(
                size, lambda offset, length: self.store.read(digest, offset, length)
            )
        except (BlobNotFound, ValueError):
            return None  # collected meanwhile (or its bytes do not match its record)
        with self.db.write() as conn:
            conn.execute(
                update(blobs)
                .where(blobs.c.digest == digest, blobs.c.sample.is_(None))
                .values(sample=sample)
            )
        return sample

    def download_urls(self, digests: list[str]) -> PresignedUrls:
        """URLs to GET these stored blobs from the store directly.

        No URLs at all when the store cannot hand them out: the client then reads
        through the server. That is the ordinary answer of a server on a local store,
        asked once per pull, so it is not an error. BlobNotFound, listing them, for
        digests not stored.
        """
        if self.presigned is None:
            return PresignedUrls(urls={}, expires_at=utcnow())
        wanted = list(dict.fromkeys(parse_digest(d) for d in digests))
        with self.db.read() as conn:
            stored = {
                digest
                for start in range(0, len(wanted), BATCH)
                for digest in conn.execute(
                    select(blobs.c.digest).where(
                        blobs.c.digest.in_(wanted[start : start + BATCH]),
                        blobs.c.collecting_at.is_(None),
                    )
                ).scalars()
            }
        missing = [d for d in wanted if d not in stored]
        if missing:
            raise BlobNotFound(f"{len(missing)} blob(s) are not stored", missing=missing[:1000])
        expires_at = utcnow() + timedelta(seconds=self.presign_expiry)
        urls = {d: self.presigned.presigned_get(d, self.presign_expiry) for d in wanted}
        return PresignedUrls(urls=urls, expires_at=expires_at)
