"""What a version commit checks and claims before it writes: its model (created on the
first push, safely against concurrent first pushes) and its blobs (stored, readable by
the pusher, of the sizes the manifest says, and kept from garbage collection)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from modeldepot.db import hotpath
from modeldepot.db.engine import upsert
from modeldepot.db.prepared import Prepared
from modeldepot.db.tables import blobs, models
from modeldepot.errors import BlobNotFound, ModelDeleted, SizeMismatch
from modeldepot.manifest import Manifest
from modeldepot.registry.reach import readable_digest
from modeldepot.registry.unit import UnitOfWork
from modeldepot.security.access import Access

BATCH = 500


# Shared row locks (PostgreSQL; SQLite's single writer needs none): many commits may
# claim one blob at once, while a collection's marking UPDATE waits for them to land.
_CLAIM_BLOBS = (
    select(blobs.c.digest, blobs.c.size)
    .where(
        blobs.c.digest.in_(bindparam("digests", expanding=True)), blobs.c.collecting_at.is_(None)
    )
    .with_for_update(read=True)
)
# The same for a caller who reads every blob, as one prepared statement taking the
# digests as one array (PostgreSQL).
_CLAIM_ANY_BLOBS = Prepared(
    select(blobs.c.digest, blobs.c.size)
    .where(
        blobs.c.digest == any_(bindparam("digests", type_=ARRAY(String))),
        blobs.c.collecting_at.is_(None),
    )
    .with_for_update(read=True)
)


def ensure_model(uow: UnitOfWork, name: str, push_id: str | None = None) -> tuple[int, int | None]:
    """The id of model ``name``, inserting it if new (safe against concurrent inserts),
    and the id of its version pushed with ``push_id`` before, if there is one."""
    conn = uow.conn
    found = _find(conn, name, push_id)
    if found is None:
        values = {
            "name": name,
            "description": "",
            "last_version_number": 0,
            "created_at": uow.now,
            "created_by": uow.ctx.name,
            "updated_at": uow.now,
            "updated_by": uow.ctx.name,
        }
        inserted = conn.execute(
            upsert(conn, models)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(models.c.id)
        ).first()
        if inserted is not None:
            uow.record(
                "model.create", name, model=name, after={"description": ""}, model_id=inserted.id
            )
            return int(inserted.id), None
        found = _find(conn, name, push_id)
        assert found is not None  # inserted by a concurrent push just now
    model_id, deleted, pushed = found
    if deleted:
        raise ModelDeleted(f"model {name!r} is deleted; restore it before pushing", model=name)
    return model_id, pushed


def _find(conn: Connection, name: str, push_id: str | None) -> tuple[int, bool, int | None] | None:
    if push_id is not None:
        return hotpath.model_and_push(conn, name, push_id)
    found = hotpath.model_by_name(conn, name)
    return None if found is None else (*found, None)


def claim_blobs(conn: Connection, manifest: Manifest, access: Access) -> None:
    """Check every blob is stored with the manifest's size, readable by the caller
    (``registry/reach.py``: else it counts as not uploaded), and protect it from GC.

    A blob being collected counts as absent. The claimed rows are share-locked until
    the commit lands (the writer lock does this on SQLite), so a collection cannot mark
    one meanwhile; once the version exists, it references them and no collection will.
    Shared, because a blob common to many models must not serialise their commits.
    """
    sizes: dict[str, int] = {}
    for entry in manifest.entries:
        if sizes.setdefault(entry.digest, entry.size) != entry.size:
            raise SizeMismatch(f"file {entry.path!r} declares another size for the same digest")
    found: dict[str, int] = {}
    if access.reads_everything and conn.dialect.name == "postgresql":
        for batch in _batches(sorted(sizes)):
            rows = _CLAIM_ANY_BLOBS.execute(conn, {"digests": list(batch)}).fetchall()
            found.update((digest, size) for digest, size in rows)
    else:
        claim = _CLAIM_BLOBS
        if not access.reads_everything:
            claim = claim.where(readable_digest(access, blobs.c.digest))
        for batch in _batches(sorted(sizes)):
            result = conn.execute(claim, {"digests": list(batch)})
            found.update((digest, size) for digest, size in result)
    missing = [d for d in sizes if d not in found]
    if missing:
        raise BlobNotFound(
            f"{len(missing)} blob(s) of the manifest are not uploaded", missing=missing[:1000]
        )
    for entry in manifest.entries:
        if found[entry.digest] != entry.size:
            raise SizeMismatch(
                f"file {entry.path!r} declares {entry.size} bytes, "
                f"its blob has {found[entry.digest]}",
                path=entry.path,
            )


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
