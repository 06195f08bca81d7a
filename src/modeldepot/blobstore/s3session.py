"""An upload session as objects in an S3 bucket: its pieces, its writer lease, its writer.

A session is a ``session`` marker plus the pieces its writers flushed (keys in
``paths``). Each piece is created once, under its starting offset, with a conditional
put (``If-None-Match: *``), so two writers can never both extend the session at the
same offset: the bytes received are the run of pieces that follow on from offset 0.

One writer at a time holds the ``writer`` lease: an object it renews while it writes,
which another may take over (compare-and-swap on the ETag) once it has expired, so a
crashed process blocks a session for ``lease_seconds`` at most. Expiry is judged on the
server's clock alone (the object's Last-Modified against the response's Date).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.exceptions import ClientError

from modeldepot.blobstore import paths
from modeldepot.digest import CHUNK_SIZE, PipelinedHasher
from modeldepot.errors import UploadConflict

READ_CHUNK = CHUNK_SIZE

# (offset, ETag) of each piece: which bytes a running hash stands for.
Identity = tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Piece:
    offset: int
    size: int
    key: str
    etag: str


@dataclass(frozen=True, slots=True)
class Staged:
    """What the bucket holds of one session."""

    begun: bool  # its marker exists
    pieces: tuple[Piece, ...]  # the contiguous run from offset 0, in order
    modified_at: datetime  # the newest of its objects

    @property
    def size(self) -> int:
        return self.pieces[-1].offset + self.pieces[-1].size if self.pieces else 0

    @property
    def identity(self) -> Identity:
        return tuple((piece.offset, piece.etag) for piece in self.pieces)

    @classmethod
    def from_listing(cls, named: Iterable[tuple[str, dict[str, Any]]]) -> Staged:
        """From ``(name within the session, ListObjectsV2 entry)`` pairs."""
        begun = False
        newest = datetime.min.replace(tzinfo=UTC)
        found: list[Piece] = []
        for name, obj in named:
            newest = max(newest, utc(obj["LastModified"]))
            if name == paths.SESSION:
                begun = True
            elif (offset := paths.piece_offset(name)) is not None:
                found.append(Piece(offset, int(obj["Size"]), obj["Key"], obj["ETag"]))
        run: list[Piece] = []
        end = 0
        for piece in sorted(found, key=lambda p: p.offset):
            if piece.offset != end:
                break  # a gap: nothing past it counts as received
            run.append(piece)
            end += piece.size
        return cls(begun, tuple(run), newest)


def read_piece(client: Any, bucket: str, piece: Piece) -> Iterator[bytes]:
    """The bytes of exactly the version of the piece that was listed.

    Raises UploadConflict if the piece was replaced or removed since.
    """
    try:
        response = client.get_object(Bucket=bucket, Key=piece.key, IfMatch=piece.etag)
    except ClientError as error:
        if is_missing(error) or is_precondition_failed(error):
            raise UploadConflict(
                f"staged bytes at offset {piece.offset} changed while being finished"
            ) from None
        raise
    return stream(response["Body"])


class Lease:
    """The right to append to one session, held by one writer (or finisher) at a time."""

    def __init__(self, client: Any, bucket: str, key: str, etag: str, seconds: float) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._etag = etag
        self._seconds = seconds
        self._renewed = time.monotonic()

    @classmethod
    def acquire(cls, client: Any, bucket: str, key: str, seconds: float, upload_id: str) -> Lease:
        """Take the lease at ``key``; UploadConflict while another holder's is live."""
        busy = f"upload {upload_id} is being written by another request"
        condition = {"IfNoneMatch": "*"}
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if not is_missing(error):
                raise
        else:
            if _age_seconds(head) < _held_for(head, seconds):
                raise UploadConflict(busy)
            # Expired: its holder died or stalled. Take it over unless someone just did.
            condition = {"IfMatch": head["ETag"]}
        try:
            put = client.put_object(
                Bucket=bucket, Key=key, Body=_token(), Metadata=_term(seconds), **condition
            )
        except ClientError as error:
            if is_precondition_failed(error) or is_missing(error):
                raise UploadConflict(busy) from None
            raise
        return cls(client, bucket, key, put["ETag"], seconds)

    def renew_if_due(self) -> None:
        """Extend the lease once a third of it has passed; UploadConflict if it was lost."""
        if time.monotonic() - self._renewed < self._seconds / 3:
            return
        try:
            put = self._client.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=_token(),
                Metadata=_term(self._seconds),
                IfMatch=self._etag,
            )
        except ClientError as error:
            if is_precondition_failed(error) or is_missing(error):
                raise UploadConflict(
                    "the upload was taken over by another request, or aborted"
                ) from None
            raise
        self._etag = put["ETag"]
        self._renewed = time.monotonic()

    def release(self) -> None:
        """Give the lease up, unless another holder has taken it over. Safe to repeat."""
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self._key, IfMatch=self._etag)
        except ClientError as error:
            if is_missing(error) or is_precondition_failed(error):
                return
            # A store without conditional deletes: compare, then delete.
            try:
                head = self._client.head_object(Bucket=self._bucket, Key=self._key)
            except ClientError as missing:
                if is_missing(missing):
                    return
                raise
            if head["ETag"] == self._etag:
                self._client.delete_object(Bucket=self._bucket, Key=self._key)


class S3UploadWriter:
    """Buffers the bytes it is given and flushes them as pieces of ``part_size`` bytes.

    ``on_close`` receives the pieces' identity and the running hash of the whole
    session (None when it is unknown or a write failed).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        piece_key: Callable[[int], str],
        lease: Lease,
        staged: Staged,
        hasher: hashlib._Hash | None,
        part_size: int,
        on_close: Callable[[Identity, hashlib._Hash | None], None],
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._piece_key = piece_key
        self._lease = lease
        self._identity = list(staged.identity)
        self._size = staged.size  # bytes durable in the bucket
        self._buffer = bytearray()
        self._hasher = PipelinedHasher(hasher) if hasher is not None else None
        self._part_size = part_size
        self._on_close = on_close
        self._closed = False
        self._failed = False

    def write(self, data: bytes | memoryview) -> None:
        if self._closed:
            raise ValueError("writer is closed")
        if self._failed:
            raise UploadConflict("an earlier write to this upload failed")
        if self._hasher is not None:
            self._hasher.update(data)  # hashed in a helper thread while we upload
        self._buffer += data
        self._keep_lease()
        while len(self._buffer) >= self._part_size:
            self._flush(self._part_size)

    def _keep_lease(self) -> None:
        """Renew the lease if due, before any flush: one that lost it flushes nothing more."""
        try:
            self._lease.renew_if_due()
        except BaseException:
            self._failed = True
            raise

    def _flush(self, size: int) -> None:
        try:
            put = self._client.put_object(
                Bucket=self._bucket,
                Key=self._piece_key(self._size),
                Body=bytes(self._buffer[:size]),
                IfNoneMatch="*",
            )
        except BaseException as error:
            self._failed = True
            if isinstance(error, ClientError) and is_precondition_failed(error):
                raise UploadConflict(
                    f"another request wrote this upload at offset {self._size}"
                ) from None
            raise
        del self._buffer[:size]
        self._identity.append((self._size, put["ETag"]))
        self._size += size

    def close(self) -> int:
        if self._closed:
            return self._size
        self._closed = True
        try:
            if self._buffer and not self._failed:
                self._keep_lease()
                self._flush(len(self._buffer))
        finally:
            self._lease.release()
            hasher = self._hasher.wait() if self._hasher is not None else None
            self._on_close(tuple(self._identity), None if self._failed else hasher)
        return self._size


def stream(body: Any) -> Iterator[bytes]:
    """The chunks of a response body, which is closed when the caller stops."""
    try:
        for chunk in body.iter_chunks(READ_CHUNK):
            if chunk:
                yield chunk
    finally:
        body.close()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_missing(error: ClientError) -> bool:
    return error_code(error) in {"404", "NoSuchKey", "NotFound"}


def is_precondition_failed(error: ClientError) -> bool:
    """A conditional request lost: 412, or 409 when a concurrent conditional write won."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 412 or error_code(error) in {
        "PreconditionFailed",
        "ConditionalRequestConflict",
    }


_TERM = "lease-seconds"


def _term(seconds: float) -> dict[str, str]:
    return {_TERM: repr(float(seconds))}


def _held_for(head: dict[str, Any], default: float) -> float:
    """The holder's term, not ours: replicas may be configured differently."""
    try:
        return float(head.get("Metadata", {}).get(_TERM, default))
    except ValueError:
        return default


def _token() -> bytes:
    # Unique content, so that every lease object has its own ETag to compare and swap on.
    return uuid.uuid4().hex.encode()


def _age_seconds(head: dict[str, Any]) -> float:
    """How long ago the object was written, both times read off the server's clock."""
    date = head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    return (now - head["LastModified"]).total_seconds()
