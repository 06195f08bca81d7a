"""Blobs and resumable upload sessions: ``/api/v1/blobs…`` and ``/api/v1/uploads…``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from modeldepot.blobstore.base import UploadWriter
from modeldepot.digest import parse_digest
from modeldepot.errors import InvalidInput
from modeldepot.schemas import (
    BlobsMissing,
    BlobsQuery,
    PartUrlsQuery,
    PresignedUrls,
    UploadCreate,
    UploadRead,
)
from modeldepot.server.blobs import serve_blob
from modeldepot.server.deps import ActorDep, RegistryDep
from modeldepot.server.intake import Intake, body_intake

router = APIRouter(tags=["blobs"])

# Bytes gathered on the event loop before one hand-off to a worker thread for
# writing and hashing: large enough that the hand-off cost vanishes.
WRITE_BATCH = 4 * 1024 * 1024


@router.post("/blobs/missing", response_model=BlobsMissing)
def missing_blobs(query: BlobsQuery, registry: RegistryDep) -> BlobsMissing:
    """Which of these digests the server lacks. Blobs it has are kept from GC for a while."""
    return BlobsMissing(missing=registry.uploads.missing_blobs(query.digests))


@router.post("/blobs/urls", response_model=PresignedUrls)
def blob_urls(query: BlobsQuery, registry: RegistryDep) -> PresignedUrls:
    """Presigned URLs to download these blobs straight from the blob store.

    409 PRESIGNED_UNAVAILABLE when the store cannot hand them out (read the blobs
    through `GET /blobs/{digest}` instead); 404 BLOB_UNKNOWN, with `missing`, for
    blobs not stored.
    """
    return registry.uploads.download_urls(query.digests)


@router.get("/blobs/{digest}", response_class=Response)
def get_blob(digest: str, registry: RegistryDep, request: Request) -> Response:
    """Blob bytes with Range support and immutable caching headers (HEAD for headers only)."""
    return serve_blob(registry.store, parse_digest(digest), request)


router.add_api_route(
    "/blobs/{digest}",
    get_blob,
    methods=["HEAD"],
    response_class=Response,
    operation_id="head_blob",
    summary="Blob Headers",
)


@router.put("/blobs/{digest}", response_model=UploadRead, status_code=status.HTTP_201_CREATED)
async def put_blob(
    digest: str,
    request: Request,
    registry: RegistryDep,
    content_length: Annotated[int | None, Header()] = None,
) -> UploadRead:
    """Upload a whole blob in one request (small blobs); verified before it is stored."""
    parse_digest(digest)
    if content_length is None:
        raise InvalidInput("a monolithic blob upload needs a Content-Length header")
    uploads = registry.uploads
    upload_id, writer = await run_in_threadpool(uploads.begin_direct_upload, digest, content_length)
    try:
        await _receive(request, writer)
        return await run_in_threadpool(
            uploads.finish_direct_upload, upload_id, digest, content_length
        )
    except BaseException:
        await run_in_threadpool(uploads.discard_direct_upload, upload_id)
        raise


@router.post("/uploads", response_model=UploadRead, status_code=status.HTTP_201_CREATED)
def create_upload(data: UploadCreate, registry: RegistryDep, actor: ActorDep) -> UploadRead:
    """Open a resumable upload session for one blob (presigned if asked and offered)."""
    return registry.uploads.create_upload(data.digest, data.size, actor, presigned=data.presigned)


@router.get("/uploads/{upload_id}", response_model=UploadRead)
def get_upload(upload_id: str, registry: RegistryDep) -> UploadRead:
    """The session's state; ``offset`` is where a resumed upload continues."""
    return registry.uploads.get_upload(upload_id)


@router.post("/uploads/{upload_id}/parts", response_model=PresignedUrls)
def part_urls(upload_id: str, query: PartUrlsQuery, registry: RegistryDep) -> PresignedUrls:
    """Presigned URLs to PUT parts of a presigned session straight to the blob store.

    Part N holds bytes `[(N-1)·part_size, N·part_size)` of the blob. Send each with a
    plain `PUT` (no credentials, no extra headers); `GET /uploads/{id}` lists the parts
    received, so an interrupted upload sends only the rest.
    """
    return registry.uploads.part_urls(upload_id, query.numbers)


@router.patch("/uploads/{upload_id}", response_model=UploadRead)
async def append_upload(
    upload_id: str,
    request: Request,
    registry: RegistryDep,
    upload_offset: Annotated[int, Header(alias="Upload-Offset", ge=0)],
) -> UploadRead:
    """Append the request body at ``Upload-Offset``, which must equal the bytes received.

    A body cut short by a broken connection keeps what arrived; ask for the session's
    offset and continue from there.
    """
    writer = await run_in_threadpool(registry.uploads.open_writer, upload_id, upload_offset)
    await _receive(request, writer)
    return await run_in_threadpool(registry.uploads.get_upload, upload_id)


@router.post("/uploads/{upload_id}/complete", response_model=UploadRead)
def complete_upload(upload_id: str, registry: RegistryDep) -> UploadRead:
    """Verify the received bytes against the digest and size, then store the blob."""
    return registry.uploads.complete_upload(upload_id)


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
def abort_upload(upload_id: str, registry: RegistryDep) -> None:
    registry.uploads.abort_upload(upload_id)


async def _receive(request: Request, writer: UploadWriter) -> int:
    """Stream the request body into ``writer``; keep what arrived if the client goes away.

    Each part is written (and hashed) in a worker thread while the next one arrives, so
    the network and the disk work at the same time. Where the server can, the body
    comes straight from the socket into aligned buffers (``modeldepot.server.intake``);
    otherwise through ASGI ``receive``.
    """
    intake = body_intake(request)
    held: list[memoryview] = []
    try:
        if intake is None:
            await _receive_messages(request, writer)
        else:
            await _receive_intake(intake, writer, held)
    finally:
        try:
            size = await run_in_threadpool(writer.close)
        finally:
            if intake is not None:
                for chunk in held:
                    intake.release(chunk)
                intake.close()
    return size


async def _receive_intake(intake: Intake, writer: UploadWriter, held: list[memoryview]) -> None:
    """Write the intake's buffers in order, after the pieces the HTTP layer read first
    (in one hand-off). A writer is done with a buffer once the next ``write`` returned,
    so each is released after the write that follows it; ``held`` keeps the ones not
    released yet."""
    pending: asyncio.Future[None] | None = None
    try:
        if early := intake.early():
            pending = asyncio.ensure_future(run_in_threadpool(_write_each, writer, early))
        while (chunk := await intake.next()) is not None:
            if pending is not None:
                await pending
                while len(held) > 1:
                    intake.release(held.pop(0))
            held.append(chunk)
            pending = asyncio.ensure_future(run_in_threadpool(writer.write, chunk))
        if pending is not None:
            await pending
    finally:
        if pending is not None and not pending.done():
            await asyncio.wait([pending])


async def _receive_messages(request: Request, writer: UploadWriter) -> None:
    """The body through ASGI ``receive``: batches of pieces, each written in a worker
    thread as it was received (not joined): the writer copies each once."""
    chunks: list[bytes] = []
    gathered = 0
    pending: asyncio.Future[None] | None = None

    async def flush() -> None:
        nonlocal pending, chunks, gathered
        batch = chunks
        chunks, gathered = [], 0
        if pending is not None:
            await pending
        pending = asyncio.ensure_future(run_in_threadpool(_write_each, writer, batch))

    try:
        try:
            async for chunk in request.stream():
                if chunk:
                    chunks.append(chunk)
                    gathered += len(chunk)
                if gathered >= WRITE_BATCH:
                    await flush()
        except ClientDisconnect:
            pass
        if chunks:
            await flush()
        if pending is not None:
            await pending
    finally:
        if pending is not None and not pending.done():
            await asyncio.wait([pending])


def _write_each(writer: UploadWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)
