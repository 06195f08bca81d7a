"""What the upload and blob services share: rows of stored blobs and upload sessions,
who may open and use a session, and the writer that keeps a session within its
declared size."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update

from modeldepot.blobstore.base import BlobStore, UploadWriter
from modeldepot.blobstore.presigned import PresignedStore, part_count
from modeldepot.db.engine import upsert
from modeldepot.db.tables import blobs, uploads
from modeldepot.errors import InvalidInput, SizeMismatch, UploadModelRequired, UploadNotFound
from modeldepot.manifest import MAX_FILE_SIZE
from modeldepot.refs import validate_name
from modeldepot.registry.reach import link_blob
from modeldepot.registry.unit import UnitOfWork
from modeldepot.schemas import PresignedUpload, UploadRead
from modeldepot.security.access import Access
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


def record_blob(conn: Connection, digest: str, size: int, now: datetime) -> None:
    """Record a verified blob (or refresh it if already recorded)."""
    statement = upsert(conn, blobs).values(digest=digest, size=size, created_at=now, touched_at=now)
    refresh = {"touched_at": now, "collecting_at": None}  # an upload revives a doomed blob
    conn.execute(statement.on_conflict_do_update(index_elements=["digest"], set_=refresh))


def record_stored(
    uow: UnitOfWork,
    store: BlobStore,
    digest: str,
    size: int,
    model: str | None,
    upload_id: str | None = None,
) -> None:
    """Record a blob just verified, link it to ``model`` and log ``upload.complete``;
    check it is still stored once its row is locked.

    Garbage collection deletes a blob's row and file in one transaction holding the
    row's lock. Recording takes that lock too, so if a collection removed the file
    between our store and our record, we see it here and refuse: the client sends the
    blob again.
    """
    record_blob(uow.conn, digest, size, uow.now)
    if store.stat(digest) != size:
        raise UploadNotFound(
            f"blob {digest} was garbage-collected while it was uploaded; upload it again"
        )
    if model is not None:
        link_blob(uow.conn, digest, model, uow.now, uow.ctx.name)
    uow.record(
        "upload.complete",
        digest,
        model=model,
        after={"digest": digest, "size": size},
        upload_id=upload_id,
    )


def abandoned(uow: UnitOfWork, upload_id: str, row: Row[Any], reason: str) -> None:
    """Log a session given up (``reason``: ``cancelled`` or ``expired``); ``row`` has
    its digest, size and model."""
    uow.record(
        "upload.abandon",
        upload_id,
        model=row.model,
        before={"digest": row.digest, "size": row.size},
        after={"reason": reason},
    )


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


def require_upload(access: Access, model: str | None) -> None:
    """Raise unless the caller may upload for ``model``: push to it (Forbidden, 403,
    whether or not the caller may read it: a creation reveals nothing).

    An upload without a model is one for the whole registry: only a caller who may
    push to every model may open one; any other is told to name its model
    (UploadModelRequired), so an old client fails clearly, not silently.
    """
    if model is None:
        if not access.may(Permission.VERSION_CREATE, ""):
            raise UploadModelRequired(
                "name the model this upload is for (`model`): uploads are opened for a "
                "model namespace you may push to"
            )
        return
    validate_name(model)
    access.require(Permission.VERSION_CREATE, model)


def owned_session(conn: Connection, ctx: Context, upload_id: str) -> Row[Any]:
    """The caller's session ``upload_id``, if it may still upload for its model.

    Another principal's session does not exist for the caller (UploadNotFound), as it
    does not once expired: its id is the only secret between it and its bytes.
    """
    row = session_row(conn, upload_id)
    if row.client != ctx.quota_key:
        raise UploadNotFound(f"upload {upload_id!r} does not exist or has expired")
    require_upload(ctx.access, row.model)
    return row


def presigned_progress(store: PresignedStore, row: Row[Any]) -> PresignedUpload:
    """A presigned session's plan with the parts received whole."""
    parts = store.staged_parts(row.id)
    count = part_count(row.size, row.part_size)
    done = [
        number
        for number in range(1, count + 1)
        if parts.get((number - 1) * row.part_size)
        == min(row.part_size, row.size - (number - 1) * row.part_size)
    ]
    return PresignedUpload(part_size=row.part_size, part_count=count, parts_done=done)


def upload_read(
    expiry: timedelta,
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
    """What the API shows of an upload; it expires ``expiry`` after its last touch."""
    return UploadRead(
        id=upload_id,
        digest=digest,
        size=size,
        offset=offset,
        complete=complete,
        created_at=created_at,
        expires_at=touched_at + expiry,
        presigned=presigned,
    )


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
