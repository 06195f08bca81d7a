"""Blobs and upload sessions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

MAX_QUERY_DIGESTS = 10_000


class BlobsQuery(BaseModel):
    digests: list[str] = Field(max_length=MAX_QUERY_DIGESTS)


class BlobsMissing(BaseModel):
    missing: list[str]


class UploadCreate(BaseModel):
    digest: str
    size: int = Field(ge=0, strict=True)


class UploadRead(BaseModel):
    id: str
    digest: str
    size: int
    offset: int = Field(description="Bytes received so far; resume from here")
    complete: bool = Field(description="True once the blob is verified and stored")
    created_at: datetime
    expires_at: datetime


class GarbageReport(BaseModel):
    dry_run: bool
    blobs_deleted: int
    bytes_freed: int
    uploads_expired: int
    staged_removed: int
