"""Choose the blob store named by the settings."""

from __future__ import annotations

from modeldepot.blobstore.base import BlobStore
from modeldepot.config import ServerSettings
from modeldepot.errors import InvalidInput


def create_blobstore(settings: ServerSettings) -> BlobStore:
    if settings.blobstore == "local":
        from modeldepot.blobstore.local import LocalBlobStore

        return LocalBlobStore(settings.blob_dir)
    raise InvalidInput(f"unknown blob store {settings.blobstore!r} (known: local)")
