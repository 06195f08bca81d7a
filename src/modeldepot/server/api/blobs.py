"""Blobs and resumable upload sessions: ``/api/v1/blobs…`` and ``/api/v1/uploads…``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from starlette.concurrency import run_in_threadpool

from modeldepot.digest import parse_digest
from modeldepot.errors import InvalidInput
from modeldepot.schemas import (
    BlobsAbsent,
    BlobsAbsentQuery,
    BlobsMissing,
    BlobsQuery,
    PartUrlsQuery,
    PresignedUrls,
    UploadComplete,
    UploadCreate,
    UploadRead,
)
from modeldepot.server.blobs import serve_blob
from modeldepot.server.bodies import receive_body
from modeldepot.server.clients import QuotaDep
from modeldepot.server.deps import ActorDep, RegistryDep
from modeldepot.server.errors import problems

router = APIRouter(tags=["blobs"])


@router.post("/blobs/missing", response_model=BlobsMissing)
def missing_blobs(query: BlobsQuery, registry: RegistryDep) -> BlobsMissing:
    """Which of these digests the server lacks. Blobs it has are kept from GC for a while."""
    return BlobsMissing(missing=registry.blobs.missing_blobs(query.digests))


@router.post("/blobs/absent", response_model=BlobsAbsent)
def absent_blobs(query: BlobsAbsentQuery, registry: RegistryDep) -> BlobsAbsent:
    """Which of these large files, by size and sample digest, the server certainly lacks.

    A client sends those while hashing them (open the session without a digest, name it
    when completing) instead of hashing them first; for the others it asks
    `POST /blobs/missing` by digest as usual.
    """
    files = [(f.size, f.sample) for f in query.files]
    return BlobsAbsent(absent=registry.blobs.absent_files(files))


@router.post("/blobs/urls", response_model=PresignedUrls)
def blob_urls(query: BlobsQuery, registry: RegistryDep) -> PresignedUrls:
    """Presigned URLs to download these blobs straight from the blob store.

    No `urls` when the store cannot hand them out (read the blobs through
    `GET /blobs/{digest}` instead); 404 BLOB_UNKNOWN, with `missing`, for blobs not
    stored.
    """
    return registry.blobs.download_urls(query.digests)


@router.get("/blobs/{digest}", response_class=Response, responses=problems(416))
def get_blob(digest: str, registry: RegistryDep, request: Request) -> Response:
    """Blob bytes with Range support and immutable caching headers (HEAD for headers only)."""
    return serve_blob(registry.store, parse_digest(digest), request)


router.add_api_route(
    "/blobs/{digest}",
    get_blob,
    methods=["HEAD"],
    response_class=Response,
    responses=problems(416),
    operation_id="head_blob",
    summary="Blob Headers",
)


# What opening an upload can answer besides: the client's own limits (429), the server
# stages no more bytes now (503).
ADMISSION = problems(429, 503)


@router.put(
    "/blobs/{digest}",
    response_model=UploadRead,
    status_code=status.HTTP_201_CREATED,
    responses=ADMISSION,
)
async def put_blob(
    digest: str,
    request: Request,
    registry: RegistryDep,
    quota: QuotaDep,
    content_length: Annotated[int | None, Header()] = None,
) -> UploadRead:
    """Upload a whole blob in one request (small blobs); verified before it is stored.

    It counts as one of the client's open uploads while it arrives (429
    TOO_MANY_UPLOADS, 503 STAGING_FULL, 413 BLOB_TOO_LARGE as for sessions).
    """
    parse_digest(digest)
    if content_length is None:
        raise InvalidInput("a monolithic blob upload needs a Content-Length header")
    uploads = registry.uploads
    upload_id, writer = await run_in_threadpool(
        uploads.begin_direct_upload, digest, content_length, quota
    )
    try:
        await receive_body(request, writer)
        return await run_in_threadpool(
            uploads.finish_direct_upload, upload_id, digest, content_length
        )
    except BaseException:
        await run_in_threadpool(uploads.discard_direct_upload, upload_id)
        raise


@router.post(
    "/uploads", response_model=UploadRead, status_code=status.HTTP_201_CREATED, responses=ADMISSION
)
def create_upload(
    data: UploadCreate, registry: RegistryDep, actor: ActorDep, quota: QuotaDep
) -> UploadRead:
    """Open a resumable upload session for one blob (presigned if asked and offered).

    413 BLOB_TOO_LARGE past the server's largest blob; 429 TOO_MANY_UPLOADS when the
    client already holds its most open sessions; 503 STAGING_FULL when open sessions
    already declare the most bytes the server stages at once.
    """
    return registry.uploads.create_upload(
        data.digest, data.size, actor, presigned=data.presigned, quota=quota
    )


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
    content_length: Annotated[int | None, Header()] = None,
) -> UploadRead:
    """Append the request body at ``Upload-Offset``, which must equal the bytes received.

    The body needs a Content-Length: one that would pass the session's declared size
    is refused (SIZE_MISMATCH) before any of it is kept. A body cut short by a broken
    or stalled connection keeps what arrived; ask for the session's offset and
    continue from there.
    """
    if content_length is None:
        raise InvalidInput("an upload PATCH needs a Content-Length header")
    writer = await run_in_threadpool(
        registry.uploads.open_writer, upload_id, upload_offset, content_length
    )
    await receive_body(request, writer)
    return await run_in_threadpool(registry.uploads.get_upload, upload_id)


@router.post("/uploads/{upload_id}/complete", response_model=UploadRead)
def complete_upload(
    upload_id: str, registry: RegistryDep, data: UploadComplete | None = None
) -> UploadRead:
    """Verify the received bytes against the digest and size, then store the blob.

    A session opened without a digest needs `{"digest": ...}` here.
    """
    digest = data.digest if data is not None else None
    return registry.uploads.complete_upload(upload_id, digest)


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
def abort_upload(upload_id: str, registry: RegistryDep) -> None:
    registry.uploads.abort_upload(upload_id)
