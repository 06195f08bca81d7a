"""Blobs and upload sessions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictInt

MAX_QUERY_DIGESTS = 10_000


class BlobsQuery(BaseModel):
    digests: list[str] = Field(max_length=MAX_QUERY_DIGESTS)


class BlobsMissing(BaseModel):
    missing: list[str]


class FileSample(BaseModel):
    size: int = Field(ge=0, strict=True)
    sample: str = Field(
        description="The file's sample digest: sha256 of its size and of 8 windows of "
        "128 KiB spread evenly over it (see `modeldepot.sample`)"
    )


class BlobsAbsentQuery(BaseModel):
    files: list[FileSample] = Field(max_length=MAX_QUERY_DIGESTS)


class BlobsAbsent(BaseModel):
    absent: list[int] = Field(
        description="Positions in `files` of the files no stored blob matches: the server "
        "certainly lacks them. Files under 8 MiB are never listed."
    )


class UploadCreate(BaseModel):
    model: str | None = Field(
        default=None,
        description="The model the blob is uploaded for: you need to be allowed to push "
        "to it, and once verified the blob is readable to whoever may read that model. "
        "Only a caller who may push to every model may leave it out (else 400 "
        "UPLOAD_MODEL_REQUIRED).",
    )
    digest: str | None = Field(
        default=None,
        description="The blob's digest. Leave it out to hash the file while sending it "
        "and name the digest when completing the session instead.",
    )
    size: int = Field(ge=0, strict=True)
    presigned: bool = Field(
        default=False,
        description="Ask to send the bytes straight to the blob store through presigned "
        "part URLs. Granted only if the store supports it (see `presigned` in the answer); "
        "otherwise the session is an ordinary one and the bytes go through the server.",
    )


class PresignedUpload(BaseModel):
    """How to send a presigned session's bytes: part N holds bytes
    ``[(N-1)·part_size, N·part_size)``; PUT each to its URL, then complete the session."""

    part_size: int
    part_count: int
    parts_done: list[int] = Field(description="Parts the store has received, by number")


class UploadComplete(BaseModel):
    digest: str | None = Field(
        default=None,
        description="Required if the session was opened without a digest; otherwise, if "
        "given, it must equal the declared one",
    )


class UploadRead(BaseModel):
    id: str
    digest: str | None = Field(description="Null until a streamed session is completed")
    size: int
    offset: int = Field(
        description="Bytes received so far; resume from here (presigned: the bytes of the "
        "leading run of received parts)"
    )
    complete: bool = Field(description="True once the blob is verified and stored")
    created_at: datetime
    expires_at: datetime
    presigned: PresignedUpload | None = Field(
        default=None, description="Set when the bytes go straight to the blob store"
    )


class PartUrlsQuery(BaseModel):
    numbers: list[StrictInt] = Field(min_length=1, max_length=1000, description="1-based")


class PresignedUrls(BaseModel):
    """Time-limited URLs; no credentials are needed to use them."""

    urls: dict[str, str]
    expires_at: datetime


class GarbageReport(BaseModel):
    dry_run: bool
    blobs_deleted: int
    bytes_freed: int
    uploads_expired: int
    staged_removed: int
    skipped: bool = Field(
        default=False,
        description="Another process was collecting (PostgreSQL), so this run did nothing",
    )
