"""The limits a request uploads under: decided here, once.

The one seam between the edge and the upload limits. Uploads are counted per
principal (``Context.quota_key``, from the request's context); every principal gets
the server's limits today. Limits of its own would be read here, and no service changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from modeldepot.config import ServerSettings
from modeldepot.registry.quota import UploadQuota


# Async on purpose: FastAPI runs sync dependencies in a worker thread, a hop each.
async def upload_quota(request: Request) -> UploadQuota:
    """The limits the caller of ``request`` uploads under."""
    settings: ServerSettings = request.app.state.registry.settings
    return UploadQuota(
        max_uploads=settings.max_uploads_per_client,
        max_blob_bytes=settings.max_blob_bytes,
    )


QuotaDep = Annotated[UploadQuota, Depends(upload_quota)]
