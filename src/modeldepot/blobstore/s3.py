"""``S3BlobStore``: blobs as objects in an S3-compatible bucket (the layout in ``paths``).

Every fact lives in the bucket, never only in one process, so any number of servers
can share it. A committed blob is one object under ``<prefix>sha256/``; an upload
session is staged as pieces under ``<prefix>uploads/<id>/`` (``s3session``); finishing
holds the session's lease, hashes the pieces in order (or reuses the running hash when
this process wrote all of them) and puts them together under the digest's key
(``s3assembly``), visible only once the digest matched.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from botocore.exceptions import ClientError

from modeldepot.blobstore import paths
from modeldepot.blobstore.base import BlobInfo, StagedInfo
from modeldepot.blobstore.s3assembly import CONTENT_TYPE, Assembly
from modeldepot.blobstore.s3session import (
    Identity,
    Lease,
    Piece,
    S3UploadWriter,
    Staged,
    error_code,
    is_missing,
    is_precondition_failed,
    read_piece,
    stream,
    utc,
)
from modeldepot.digest import PipelinedHasher, from_hasher, hex_of, parse_digest
from modeldepot.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidInput,
    SizeMismatch,
    UploadNotFound,
    UploadOffsetMismatch,
)

MiB = 1024 * 1024
PART_SIZE = 8 * MiB  # bytes a writer holds in memory before flushing them as one piece
LEASE_SECONDS = 30.0
DELETE_BATCH = 1000  # S3's most keys in one DeleteObjects request


class S3BlobStore:
    """A blob store in an S3 bucket under a key prefix, shared safely by many processes.

    ``client`` is a boto3 S3 client; without one, a client is built from the standard
    AWS credential chain, ``endpoint_url`` (with path-style addressing, for MinIO and
    the like) and ``region``. A writer flushes a piece every ``part_size`` bytes; pieces
    of 5 MiB or more are copied server-side when the upload is finished. A writer
    silent for ``lease_seconds`` may lose its session to the next one.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        part_size: int = PART_SIZE,
        lease_seconds: float = LEASE_SECONDS,
        presign_endpoint_url: str | None = None,
    ) -> None:
        if not bucket:
            raise InvalidInput("the S3 blob store needs a bucket name")
        if part_size < 1:
            raise InvalidInput(f"the part size must be positive, not {part_size}")
        self.bucket = bucket
        self.prefix = _normalise_prefix(prefix)
        self.part_size = part_size
        self.lease_seconds = lease_seconds
        self.client = client if client is not None else _default_client(endpoint_url, region)
        # Presigned URLs name the endpoint clients use, which may differ from ours.
        self._presigner = (
            _default_client(presign_endpoint_url, region) if presign_endpoint_url else self.client
        )
        # Running hash of sessions this process wrote, keyed on their pieces' ETags, so
        # finishing need not read them back. Only an optimisation: a session another
        # process touched does not match, and is read back.
        self._hashes: dict[str, tuple[Identity, hashlib._Hash]] = {}
        self._lock = threading.Lock()

    # Committed blobs

    def _blob_key(self, digest: str) -> str:
        return self.prefix + paths.blob_key(digest)

    def stat(self, digest: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._blob_key(digest))
        except ClientError as error:
            if is_missing(error):
                return None
            raise
        return int(head["ContentLength"])

    def read(self, digest: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        key = self._blob_key(digest)
        if offset < 0 or (length is not None and length < 0):
            # A malformed Range header would be ignored: the whole blob would come back.
            raise ValueError(f"no such range: offset {offset}, length {length}")
        if length == 0:
            if self.stat(digest) is None:
                raise BlobNotFound(f"blob {digest} does not exist")
            return iter(())
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            last = "" if length is None else str(offset + length - 1)
            request["Range"] = f"bytes={offset}-{last}"
        try:
            response = self.client.get_object(**request)
        except ClientError as error:
            if is_missing(error):
                raise BlobNotFound(f"blob {digest} does not exist") from None
            if error_code(error) == "InvalidRange":
                return iter(())  # the range starts at or past the end of the blob
            raise
        return stream(response["Body"])

    def delete(self, digest: str) -> bool:
        if self.stat(digest) is None:
            return False  # S3's delete does not say whether the key existed
        self.client.delete_object(Bucket=self.bucket, Key=self._blob_key(digest))
        return True

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for obj in self._list(self.prefix + paths.BLOBS + "/"):
            digest = paths.digest_of_key(obj["Key"][len(self.prefix) :])
            if digest is not None:
                yield BlobInfo(digest, int(obj["Size"]), utc(obj["LastModified"]))

    # Upload sessions

    def _session_key(self, upload_id: str, name: str) -> str:
        return self.prefix + paths.upload_piece_key(upload_id, name)

    def begin_upload(self, upload_id: str) -> None:
        key = self._session_key(upload_id, paths.SESSION)
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"", IfNoneMatch="*")
        except ClientError as error:
            if not is_precondition_failed(error):
                raise  # otherwise the session exists already: keep its pieces

    def staged_size(self, upload_id: str) -> int:
        return self._staged(upload_id).size

    def open_upload(self, upload_id: str, offset: int) -> S3UploadWriter:
        lease = self._lease(upload_id)
        try:
            staged = self._staged(upload_id)
            if staged.size != offset:
                raise UploadOffsetMismatch(
                    f"upload {upload_id} has {staged.size} bytes, the request starts at {offset}",
                    offset=staged.size,
                )
        except BaseException:
            lease.release()
            raise
        with self._lock:
            cached = self._hashes.pop(upload_id, None)
        hasher = cached[1] if cached is not None and cached[0] == staged.identity else None
        if hasher is None and offset == 0:
            hasher = hashlib.sha256()

        def remember(identity: Identity, running: hashlib._Hash | None) -> None:
            if running is not None:
                with self._lock:
                    self._hashes[upload_id] = (identity, running)

        return S3UploadWriter(
            self.client,
            self.bucket,
            lambda offset: self._session_key(upload_id, paths.piece_name(offset)),
            lease,
            staged,
            hasher,
            self.part_size,
            remember,
        )

    def finish_upload(self, upload_id: str, digest: str, size: int) -> None:
        parse_digest(digest)
        paths.check_upload_id(upload_id)
        with self._lock:
            cached = self._hashes.pop(upload_id, None)
        # Held until the session is gone: no writer appends to bytes being verified.
        lease = self._lease(upload_id)
        try:
            staged = self._find_staged(upload_id)
            if staged is None:
                if self.stat(digest) is not None:
                    return  # finished before: repeating is harmless
                raise UploadNotFound(f"upload {upload_id} has no staged data")
            if staged.size != size:
                self._discard(upload_id)
                raise SizeMismatch(
                    f"received {staged.size} bytes, declared {size}",
                    expected=size,
                    actual=staged.size,
                )
            known = None
            if cached is not None and cached[0] == staged.identity:
                known = from_hasher(cached[1])
            if self.stat(digest) is not None:
                actual = known or self._hash(staged.pieces, lease)
            else:
                actual = self._commit(staged.pieces, digest, known, lease)
            self._discard(upload_id)
            if actual != digest:
                raise DigestMismatch(
                    f"received bytes hash to {actual}, declared {digest}",
                    expected=digest,
                    actual=actual,
                )
        finally:
            lease.release()

    def abort_upload(self, upload_id: str) -> None:
        paths.check_upload_id(upload_id)
        with self._lock:
            self._hashes.pop(upload_id, None)
        self._discard(upload_id)

    def iter_staged(self) -> Iterator[StagedInfo]:
        # Pieces without a marker (flushed by a writer that outlived an abort) are
        # listed too, so that cleanup removes them.
        for upload_id, group in groupby(self._session_objects(), key=lambda item: item[0]):
            staged = Staged.from_listing((name, obj) for _, name, obj in group)
            yield StagedInfo(upload_id, staged.size, staged.modified_at)

    # Presigned transfers (``presigned.PresignedStore``)

    def presigned_get(self, digest: str, expires_in: int) -> str:
        key = self._blob_key(parse_digest(digest))
        return str(
            self._presigner.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        )

    def presigned_put(
        self, upload_id: str, offset: int, expires_in: int, length: int | None = None
    ) -> str:
        paths.check_upload_id(upload_id)
        key = self._session_key(upload_id, paths.piece_name(offset))
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if length is not None:
            # Signed: the store refuses another length, so a part cannot stage more bytes
            # than the session declared.
            params["ContentLength"] = length
        return str(
            self._presigner.generate_presigned_url(
                "put_object", Params=params, ExpiresIn=expires_in
            )
        )

    def staged_parts(self, upload_id: str) -> dict[int, int]:
        paths.check_upload_id(upload_id)
        prefix = self._session_key(upload_id, "")
        parts: dict[int, int] = {}
        begun = False
        for obj in self._list(prefix):
            name = obj["Key"][len(prefix) :]
            if name == paths.SESSION:
                begun = True
            elif (offset := paths.piece_offset(name)) is not None:
                parts[offset] = int(obj["Size"])
        if not begun:
            raise UploadNotFound(f"upload {upload_id} has no staged data")
        return parts

    # Staging internals

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", ())

    def _session_objects(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """``(upload id, name, listed object)`` of every session object, grouped by id."""
        for obj in self._list(self.prefix + paths.UPLOADS + "/"):
            split = paths.split_upload_key(obj["Key"][len(self.prefix) :])
            if split is not None:
                yield split[0], split[1], obj

    def _find_staged(self, upload_id: str) -> Staged | None:
        """The session's pieces, or None if it was never begun or is gone."""
        prefix = self._session_key(upload_id, "")
        staged = Staged.from_listing((obj["Key"][len(prefix) :], obj) for obj in self._list(prefix))
        return staged if staged.begun else None

    def _staged(self, upload_id: str) -> Staged:
        staged = self._find_staged(upload_id)
        if staged is None:
            raise UploadNotFound(f"upload {upload_id} has no staged data")
        return staged

    def _lease(self, upload_id: str) -> Lease:
        key = self._session_key(upload_id, paths.WRITER)
        return Lease.acquire(self.client, self.bucket, key, self.lease_seconds, upload_id)

    def _discard(self, upload_id: str) -> None:
        """Delete the session: its marker first, so that it is gone at once, then the rest."""
        marker = self._session_key(upload_id, paths.SESSION)
        self.client.delete_object(Bucket=self.bucket, Key=marker)
        keys = [obj["Key"] for obj in self._list(self._session_key(upload_id, ""))]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def _hash(self, pieces: tuple[Piece, ...], lease: Lease) -> str:
        hasher = PipelinedHasher()
        for piece in pieces:
            for chunk in read_piece(self.client, self.bucket, piece):
                hasher.update(chunk)
                lease.renew_if_due()
        return hasher.digest()

    def _commit(
        self, pieces: tuple[Piece, ...], digest: str, known: str | None, lease: Lease
    ) -> str:
        """Store the pieces under ``digest`` if they hash to it; return what they hash to."""
        key = self._blob_key(digest)
        if len(pieces) > 1:
            assembly = Assembly(self.client, self.bucket, key, pieces, lease.renew_if_due)
            return assembly.run(digest, known)
        actual = known or self._hash(pieces, lease)
        if actual != digest:
            return actual
        checksum = _checksum(digest)
        if not pieces:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"", ChecksumSHA256=checksum)
            return actual
        copied = self.client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": pieces[0].key},
            CopySourceIfMatch=pieces[0].etag,
            ChecksumAlgorithm="SHA256",
            ContentType=CONTENT_TYPE,
            MetadataDirective="REPLACE",
        )
        # The server hashed its copy too: a second check, against the bytes it stored.
        stored = copied.get("CopyObjectResult", {}).get("ChecksumSHA256")
        if stored is not None and stored != checksum:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            raise DigestMismatch(
                f"the bucket's copy of {digest} has sha256 {stored} (base64)",
                expected=digest,
                actual=stored,
            )
        return actual


def _default_client(endpoint_url: str | None, region: str | None) -> Any:
    # Imported here, not at module level: only a server configured for S3 pays for it.
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=32,
        # S3-compatible servers (MinIO, Ceph, moto) seldom resolve bucket subdomains.
        s3={"addressing_style": "path"} if endpoint_url else None,
        # SigV4 for presigned URLs too (botocore may pick SigV2 for them): only it signs
        # a part's Content-Length, which bounds the bytes a part URL can stage.
        signature_version="s3v4",
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


def _normalise_prefix(prefix: str) -> str:
    """``models/prod`` and ``/models/prod/`` both become ``models/prod/``."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _checksum(digest: str) -> str:
    """S3's form of a sha256 checksum: base64 of the raw digest."""
    return base64.b64encode(bytes.fromhex(hex_of(digest))).decode()
