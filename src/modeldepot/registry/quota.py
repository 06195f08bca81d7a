"""What one client may upload at once, and the single-request uploads in flight.

An ``UploadQuota`` names the client a request comes from and the limits it uploads
under. It is decided once per request at the edge (``modeldepot.server.clients``):
today the client is its network address and every client gets the server's limits;
with authentication it becomes the principal, with limits of its own, and nothing
here changes. ``UploadService`` only counts and compares.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from modeldepot.db.engine import Database
from modeldepot.db.locks import UPLOAD_ADMISSION, wait_exclusive
from modeldepot.db.tables import uploads
from modeldepot.errors import BlobTooLarge, StagingFull, TooManyUploads


@dataclass(frozen=True, slots=True)
class UploadQuota:
    """The client uploads are counted under (at most 128 characters), and its limits."""

    client: str
    max_uploads: int  # sessions and single-request uploads open at once
    max_blob_bytes: int  # largest declared blob size


class DirectUploads:
    """Single-request uploads (``PUT /blobs/{digest}``) this process is receiving.

    They have no session row, so they are counted here, per client and in declared
    bytes, for the same limits as sessions. Thread-safe. Each process counts its own:
    with replicas, a client's single-request uploads on another replica are not seen
    (each is one connection, cut when it stalls).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, tuple[str, int]] = {}  # upload id -> (client, size)
        self._by_client: Counter[str] = Counter()
        self._bytes = 0

    def held(self, client: str) -> tuple[int, int]:
        """(uploads ``client`` has in flight, bytes all of them declare)."""
        with self._lock:
            return self._by_client[client], self._bytes

    def admit(self, upload_id: str, client: str, size: int) -> tuple[int, int]:
        """Count this upload; return (uploads ``client`` has in flight, bytes all of them
        declare), this one included. Counting first and checking after never lets two
        racing uploads both slip under a limit."""
        with self._lock:
            self._uploads[upload_id] = (client, size)
            self._by_client[client] += 1
            self._bytes += size
            return self._by_client[client], self._bytes

    def release(self, upload_id: str) -> None:
        """Forget an upload ``admit`` counted. Idempotent."""
        with self._lock:
            entry = self._uploads.pop(upload_id, None)
            if entry is None:
                return
            client, size = entry
            self._by_client[client] -= 1
            if not self._by_client[client]:
                del self._by_client[client]
            self._bytes -= size


def refuse_oversized(quota: UploadQuota | None, size: int) -> None:
    """BlobTooLarge if ``size`` is over the client's largest blob."""
    if quota is not None and size > quota.max_blob_bytes:
        raise BlobTooLarge(
            f"a blob of {size} bytes is larger than this server accepts "
            f"({quota.max_blob_bytes} bytes)",
            limit=quota.max_blob_bytes,
        )


def refuse_over_limits(
    conn: Connection,
    quota: UploadQuota | None,
    *,
    more_uploads: int,
    more_bytes: int,
    max_staged_bytes: int,
) -> None:
    """Refuse an upload that would give the client more open uploads than its quota
    (TooManyUploads) or make open uploads declare more than ``max_staged_bytes``
    (StagingFull). ``more_*`` are what is open beyond the session rows: the new upload
    and the single-request uploads in flight.

    Call it in the transaction that inserts the new session, if any: on PostgreSQL it
    holds a lock until that transaction ends, so racing sessions are counted one after
    another (SQLite's write transactions already are).
    """
    wait_exclusive(conn, UPLOAD_ADMISSION)
    if quota is not None:
        mine = conn.execute(
            select(func.count()).select_from(uploads).where(uploads.c.client == quota.client)
        ).scalar_one()
        if mine + more_uploads > quota.max_uploads:
            raise TooManyUploads(
                f"{quota.client} would hold {mine + more_uploads} open uploads, over its most "
                f"({quota.max_uploads}); complete or cancel some, or wait for abandoned ones "
                "to expire",
                limit=quota.max_uploads,
            )
    declared = conn.execute(select(func.coalesce(func.sum(uploads.c.size), 0))).scalar_one()
    if int(declared) + more_bytes > max_staged_bytes:
        raise StagingFull(
            f"open uploads would declare {int(declared) + more_bytes} bytes, over the "
            f"{max_staged_bytes} this server stages at once; try again when some finish",
            limit=max_staged_bytes,
        )


class UploadAdmission:
    """Decides whether an upload may open: the client's quota, and the bytes the server
    stages at once (``max_staged_bytes``, declared by open sessions and single-request
    uploads in flight)."""

    def __init__(self, db: Database, max_staged_bytes: int) -> None:
        self.db = db
        self.max_staged_bytes = max_staged_bytes
        self.direct = DirectUploads()

    def check_session(self, conn: Connection, quota: UploadQuota | None, size: int) -> None:
        """Refuse a new session of ``size`` bytes; call it in the transaction inserting it."""
        refuse_oversized(quota, size)
        in_flight, in_flight_bytes = self.direct.held(quota.client if quota else "")
        refuse_over_limits(
            conn,
            quota,
            more_uploads=in_flight + 1,
            more_bytes=in_flight_bytes + size,
            max_staged_bytes=self.max_staged_bytes,
        )

    def admit_direct(self, upload_id: str, quota: UploadQuota | None, size: int) -> None:
        """Count a single-request upload as open until ``release_direct``, or refuse it."""
        refuse_oversized(quota, size)
        in_flight, in_flight_bytes = self.direct.admit(
            upload_id, quota.client if quota else "", size
        )
        try:
            with self.db.read() as conn:
                refuse_over_limits(
                    conn,
                    quota,
                    more_uploads=in_flight,
                    more_bytes=in_flight_bytes,
                    max_staged_bytes=self.max_staged_bytes,
                )
        except BaseException:
            self.direct.release(upload_id)
            raise

    def release_direct(self, upload_id: str) -> None:
        """The single-request upload is over (stored or dropped). Idempotent."""
        self.direct.release(upload_id)
