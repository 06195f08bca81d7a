"""Which stored blobs a caller may read, as a condition inside SQL.

A blob is content without a namespace; it is reachable only through the model
namespaces that hold it, as a container registry's layer is reachable only through a
repository that links it. A caller may read a blob if it may read a model

* with a version (live or soft-deleted) listing the blob (``version_files``), or
* for which the blob was uploaded, verified (``blob_links``: an upload proves its
  sender holds the bytes).

An open upload session grants nothing: opening one for a digest proves nothing about
its bytes. Every other blob does not exist for the caller, whatever the store holds:
services answer as if it were absent, so the existence of content leaks to no one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, or_, select, true

from modeldepot.db.engine import upsert
from modeldepot.db.tables import blob_links, blobs, models, version_files, versions
from modeldepot.security.access import Access

# Digests per statement, well under every database's limit on bound parameters.
BATCH = 500


def readable_digest(access: Access, digest: Any) -> ColumnElement[bool]:
    """True where the blob ``digest`` (a column, or a value) names may be read."""
    if access.reads_everything:
        return true()
    through_version = (
        exists()
        .where(
            version_files.c.digest == digest,
            versions.c.id == version_files.c.version_id,
            models.c.id == versions.c.model_id,
            access.readable(models.c.name),
        )
        .correlate_except(version_files, versions, models)
    )
    through_link = (
        exists()
        .where(blob_links.c.digest == digest, access.readable(blob_links.c.model))
        .correlate_except(blob_links)
    )
    return or_(through_version, through_link)


def readable_blobs(conn: Connection, access: Access, digests: list[str]) -> set[str]:
    """Those of ``digests`` stored (not being collected) that the caller may read."""
    found: set[str] = set()
    for start in range(0, len(digests), BATCH):
        found.update(
            conn.execute(
                select(blobs.c.digest).where(
                    blobs.c.digest.in_(digests[start : start + BATCH]),
                    blobs.c.collecting_at.is_(None),
                    readable_digest(access, blobs.c.digest),
                )
            ).scalars()
        )
    return found


def link_blob(conn: Connection, digest: str, model: str, now: datetime, by: str) -> None:
    """Record that ``digest`` was uploaded, verified, for ``model``. Idempotent."""
    statement = upsert(conn, blob_links).values(
        digest=digest, model=model, created_at=now, created_by=by
    )
    conn.execute(statement.on_conflict_do_nothing(index_elements=["digest", "model"]))
