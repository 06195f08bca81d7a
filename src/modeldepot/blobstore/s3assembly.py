"""Putting a session's staged pieces together as one blob, verified before it appears.

Pieces become the parts of one multipart upload: a piece of at least S3's minimum part
size is copied server-side (no byte passes through this process); a smaller one is read
and sent together with the pieces after it. Every read and copy is pinned to the
piece's listed ETag, so the bytes hashed are the bytes stored. The upload is completed
only if the digest matched; otherwise it is aborted, and nothing was ever visible under
the blob's key.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from modeldepot.blobstore.s3session import Piece, is_precondition_failed, read_piece
from modeldepot.digest import PipelinedHasher

MiB = 1024 * 1024
MIN_PART = 5 * MiB  # S3's smallest part of a multipart upload, but for the last
MAX_PARTS = 10_000  # S3's most parts in one multipart upload
COPY_WORKERS = 8  # server-side part copies in flight at once
CONTENT_TYPE = "application/octet-stream"


def plan_parts(sizes: list[int], min_part: int) -> list[list[int]]:
    """Group consecutive pieces (by index) into parts of at least ``min_part`` bytes but
    the last.

    A part of one piece is copied server-side. A piece smaller than ``min_part`` is
    gathered with those after it until the part is large enough, and those are read
    and sent: such a part holds less than ``min_part`` plus one piece.
    """
    parts: list[list[int]] = []
    pending: list[int] = []
    pending_size = 0
    for index, size in enumerate(sizes):
        if not size:
            continue
        if not pending and size >= min_part:
            parts.append([index])
            continue
        pending.append(index)
        pending_size += size
        if pending_size >= min_part:
            parts.append(pending)
            pending, pending_size = [], 0
    if pending:
        parts.append(pending)
    return parts


def part_floor(total: int) -> int:
    """Smallest part size for a blob of ``total`` bytes: S3's minimum, unless the blob
    would then need more than MAX_PARTS parts."""
    return max(MIN_PART, -(-total // (MAX_PARTS - 1)))


class Assembly:
    """One multipart upload putting ``pieces`` together under ``key``.

    ``keep_alive`` is called as the work goes on (to renew the session's lease); what
    it raises stops the assembly, and the multipart upload is aborted.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        pieces: tuple[Piece, ...],
        keep_alive: Callable[[], None],
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._pieces = pieces
        self._keep_alive = keep_alive

    def run(self, digest: str, known: str | None) -> str:
        """Complete the upload if the pieces hash to ``digest``; return what they hash to.

        ``known`` is their digest when already known, so copied pieces need not be read.
        """
        client, bucket, key = self._client, self._bucket, self._key
        upload = client.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", ContentType=CONTENT_TYPE
        )["UploadId"]
        completed = False
        try:
            if known is None:
                hasher = PipelinedHasher()
                parts = self._send_parts(upload, hasher)
                actual = hasher.digest()
            else:
                parts = self._send_parts(upload, None)
                actual = known
            if actual == digest:
                try:
                    client.complete_multipart_upload(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload,
                        MultipartUpload={"Parts": parts},
                        IfNoneMatch="*",
                    )
                    completed = True
                except ClientError as error:
                    if not is_precondition_failed(error):
                        raise
                    # Another upload of the same bytes was committed first: keep it.
            return actual
        finally:
            if not completed:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)

    def _send_parts(self, upload: str, hasher: PipelinedHasher | None) -> list[dict[str, Any]]:
        total = sum(piece.size for piece in self._pieces)
        plan = plan_parts([piece.size for piece in self._pieces], part_floor(total))
        parts: list[dict[str, Any]] = []
        copies: list[Future[dict[str, Any]]] = []
        with ThreadPoolExecutor(COPY_WORKERS, thread_name_prefix="modeldepot-s3") as pool:
            try:
                for number, part in enumerate(plan, start=1):
                    if len(part) == 1:
                        piece = self._pieces[part[0]]
                        if hasher is not None:
                            for chunk in read_piece(self._client, self._bucket, piece):
                                hasher.update(chunk)
                                self._keep_alive()
                        copies.append(pool.submit(self._copy_part, upload, number, piece))
                        continue
                    body = bytearray()
                    for index in part:
                        for chunk in read_piece(self._client, self._bucket, self._pieces[index]):
                            body += chunk
                            if hasher is not None:
                                hasher.update(chunk)
                            self._keep_alive()
                    parts.append(self._upload_part(upload, number, bytes(body)))
                for future in copies:
                    parts.append(future.result())
                    self._keep_alive()
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        return sorted(parts, key=lambda part: part["PartNumber"])

    def _copy_part(self, upload: str, number: int, piece: Piece) -> dict[str, Any]:
        copied = self._client.upload_part_copy(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=upload,
            PartNumber=number,
            CopySource={"Bucket": self._bucket, "Key": piece.key},
            CopySourceIfMatch=piece.etag,
        )
        return _part(number, copied["CopyPartResult"])

    def _upload_part(self, upload: str, number: int, body: bytes) -> dict[str, Any]:
        uploaded = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=upload,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
        )
        return _part(number, uploaded)


def _part(number: int, result: dict[str, Any]) -> dict[str, Any]:
    part = {"PartNumber": number, "ETag": result["ETag"]}
    if result.get("ChecksumSHA256"):
        part["ChecksumSHA256"] = result["ChecksumSHA256"]
    return part
