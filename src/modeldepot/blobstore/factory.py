"""Choose the blob store named by the settings."""

from __future__ import annotations

from modeldepot.blobstore.base import BlobStore
from modeldepot.config import ServerSettings
from modeldepot.errors import InvalidInput


def create_blobstore(settings: ServerSettings) -> BlobStore:
    if settings.blobstore == "local":
        from modeldepot.blobstore.local import LocalBlobStore

        return LocalBlobStore(settings.blob_dir, direct_io=settings.blob_direct_io)
    if settings.blobstore == "s3":
        if not settings.s3_bucket:
            raise InvalidInput("the s3 blob store needs a bucket: set MODELDEPOT_S3_BUCKET")
        # Imported here: boto3 is loaded only by servers configured for S3.
        from modeldepot.blobstore.s3 import S3BlobStore

        return S3BlobStore(
            settings.s3_bucket,
            settings.s3_prefix or "",
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            presign_endpoint_url=settings.s3_public_endpoint_url,
        )
    raise InvalidInput(f"unknown blob store {settings.blobstore!r} (known: local, s3)")
