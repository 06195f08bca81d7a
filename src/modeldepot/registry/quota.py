"""What one principal may upload at once, and the single-request uploads in flight.

Uploads are counted per principal (``Context.quota_key``: all tokens of one user
together, two users apart; an anonymous caller, when allowed, by its address). The
limits each principal uploads under (``UploadQuota``) are decided once per request at
the edge (``modeldepot.server.clients``). ``UploadService`` only counts and compares.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, select

from modeldepot.db.engine import Database
from modeldepot.db.locks import UPLOAD_ADMISSION, wait_exclusive
from modeldepot.db.tables import uploads
from modeldepot.errors import BlobTooLarge, StagingFull, TooManyUploads


@dataclass(frozen=True, slots=True)
class UploadQuota:
    """The limits one principal uploads under."""

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


# Sessions a client holds and bytes all sessions declare, in one indexed query.
_HELD = select(
    func.count().filter(uploads.c.client == bindparam("client")),
    func.coalesce(func.sum(uploads.c.size), 0),
)
# How old the session counts that single-request uploads are checked against may be:
# a small blob's PUT then costs no query (sessions are checked exactly, each time).
SNAPSHOT_SECONDS = 1.0


def sessions_held(conn: Connection, client: str) -> tuple[int, int]:
    """(sessions ``client`` holds open, bytes every open session declares)."""
    mine, declared = conn.execute(_HELD, {"client": client}).one()
    return int(mine), int(declared)


def refuse_over_limits(
    client: str,
    quota: UploadQuota | None,
    *,
    uploads_held: int,
    bytes_declared: int,
    max_staged_bytes: int,
) -> None:
    """Refuse an upload after which the client would hold more open uploads than its
    quota (TooManyUploads), or open uploads declare more than ``max_staged_bytes``
    (StagingFull). Both counts include the new upload."""
    if quota is not None and uploads_held > quota.max_uploads:
        raise TooManyUploads(
            f"{client} would hold {uploads_held} open uploads, over its most "
            f"({quota.max_uploads}); complete or cancel some, or wait for abandoned ones "
            "to expire",
            limit=quota.max_uploads,
        )
    if bytes_declared > max_staged_bytes:
        raise StagingFull(
            f"open uploads would declare {bytes_declared} bytes, over the "
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
        # client -> (when, its sessions, bytes all sessions declare), for admit_direct
        self._snapshots: dict[str, tuple[float, int, int]] = {}

    def check_session(
        self, conn: Connection, client: str, quota: UploadQuota | None, size: int
    ) -> None:
        """Refuse a new session of ``size`` bytes for ``client`` (a quota key). Call it
        in the transaction inserting it: on PostgreSQL it holds a lock until that
        transaction ends, so racing sessions are counted one after another (SQLite's
        writes already are)."""
        refuse_oversized(quota, size)
        wait_exclusive(conn, UPLOAD_ADMISSION)
        mine, declared = sessions_held(conn, client)
        in_flight, in_flight_bytes = self.direct.held(client)
        refuse_over_limits(
            client,
            quota,
            uploads_held=mine + in_flight + 1,
            bytes_declared=declared + in_flight_bytes + size,
            max_staged_bytes=self.max_staged_bytes,
        )
        self._snapshots.clear()  # they lack the session about to be inserted

    def admit_direct(
        self, upload_id: str, client: str, quota: UploadQuota | None, size: int
    ) -> None:
        """Count a single-request upload of ``client`` (a quota key) as open until
        ``release_direct``, or refuse it.
        Sessions are counted as of at most ``SNAPSHOT_SECONDS`` ago (or this process's
        last new session): sessions another process opened since may go unseen."""
        refuse_oversized(quota, size)
        in_flight, in_flight_bytes = self.direct.admit(upload_id, client, size)
        try:
            mine, declared = self._snapshot(client)
            refuse_over_limits(
                client,
                quota,
                uploads_held=mine + in_flight,
                bytes_declared=declared + in_flight_bytes,
                max_staged_bytes=self.max_staged_bytes,
            )
        except BaseException:
            self.direct.release(upload_id)
            raise

    def release_direct(self, upload_id: str) -> None:
        """The single-request upload is over (stored or dropped). Idempotent."""
        self.direct.release(upload_id)

    def _snapshot(self, client: str) -> tuple[int, int]:
        now = time.monotonic()
        taken = self._snapshots.get(client)
        if taken is not None and now - taken[0] < SNAPSHOT_SECONDS:
            return taken[1], taken[2]
        with self.db.read() as conn:
            mine, declared = sessions_held(conn, client)
        if len(self._snapshots) > 10_000:
            self._snapshots.clear()  # bounded: one entry per recent client
        self._snapshots[client] = (now, mine, declared)
        return mine, declared
