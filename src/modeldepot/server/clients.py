"""Who the client of a request is, and what it may upload: decided here, once.

This is the one seam between the edge and the upload limits. Today a client is its
network address and every client gets the server's limits; when identities arrive,
``upload_quota`` reads the authenticated principal (and its own limits) from the
request context instead, and no service changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from modeldepot.config import ServerSettings
from modeldepot.registry.quota import UploadQuota

UNKNOWN_CLIENT = "unknown"  # a transport that reports no peer address (a Unix socket)


def client_key(request: Request) -> str:
    """The name a client's uploads are counted under: its address, for now."""
    client = request.client
    return f"address:{client.host}" if client is not None else UNKNOWN_CLIENT


# Async on purpose: FastAPI runs sync dependencies in a worker thread, a hop each.
async def upload_quota(request: Request) -> UploadQuota:
    """The client of ``request`` and the limits it uploads under."""
    settings: ServerSettings = request.app.state.registry.settings
    return UploadQuota(
        client=client_key(request),
        max_uploads=settings.max_uploads_per_client,
        max_blob_bytes=settings.max_blob_bytes,
    )


QuotaDep = Annotated[UploadQuota, Depends(upload_quota)]
