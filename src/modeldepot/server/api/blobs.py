"""Blobs and resumable upload sessions: ``/api/v1/blobs…`` and ``/api/v1/uploads…``.

Blob reads answer only about blobs the caller may read (any other is missing, absent
or 404); uploads are opened for a model the caller may push to (``model``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
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
from modeldepot.server.auth import CreateCtx, ReadCtx
from modeldepot.server.blobs import serve_blob
from modeldepot.server.bodies import receive_body
from modeldepot.server.clients import QuotaDep
from modeldepot.server.deps import RegistryDep
from modeldepot.server.errors import problems

router = APIRouter(tags=["blobs"])

ModelQ = Annotated[
    str | None,
    Query(
        description="The model the blob is uploaded for: you need to be allowed to push "
        "to it. Only a caller who may push to every model may leave it out "
        "(else 400 UPLOAD_MODEL_REQUIRED)."
    ),
]


@router.post("/blobs/missing", response_model=BlobsMissing)
def missing_blobs(ctx: ReadCtx, query: BlobsQuery, registry: RegistryDep) -> BlobsMissing:
    """Which of these digests the caller lacks: blobs not stored, or stored only for
    models it may not read. Those it has are kept from GC for a while."""
    return BlobsMissing(missing=registry.blobs.missing_blobs(ctx, query.digests))


@router.post("/blobs/absent", response_model=BlobsAbsent)
def absent_blobs(ctx: ReadCtx, query: BlobsAbsentQuery, registry: RegistryDep) -> BlobsAbsent:
    """Which of these large files, by size and sample digest, no blob the caller may
    read matches.

    A client sends those while hashing them (open the session without a digest, name it
    when completing) instead of hashing them first; for the others it asks
    `POST /blobs/missing` by digest as usual.
    """
    files = [(f.size, f.sample) for f in query.files]
    return BlobsAbsent(absent=registry.blobs.absent_files(ctx, files))


@router.post("/blobs/urls", response_model=PresignedUrls)
def blob_urls(ctx: ReadCtx, query: BlobsQuery, registry: RegistryDep) -> PresignedUrls:
    """Presigned URLs to download these blobs straight from the blob store.

    No `urls` when the store cannot hand them out (read the blobs through
    `GET /blobs/{digest}` instead); 404 BLOB_UNKNOWN, with `missing`, for blobs the
    caller cannot read.
    """
    return registry.blobs.download_urls(ctx, query.digests)


@router.get("/blobs/{digest}", response_class=Response, responses=problems(416))
def get_blob(ctx: ReadCtx, digest: str, registry: RegistryDep, request: Request) -> Response:
    """Blob bytes with Range support and immutable caching headers (HEAD for headers only).

    404 BLOB_UNKNOWN for a blob the caller may not read, whether or not it is stored.
    """
    return serve_blob(registry.blobs.open_blob(ctx, digest), request)


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
    ctx: CreateCtx,
    digest: str,
    request: Request,
    registry: RegistryDep,
    quota: QuotaDep,
    model: ModelQ = None,
    content_length: Annotated[int | None, Header()] = None,
) -> UploadRead:
    """Upload a whole blob in one request (small blobs) for `model`; verified before it
    is stored, even when the store holds those bytes already (it keeps one copy).

    It counts as one of the caller's open uploads while it arrives (429
    TOO_MANY_UPLOADS, 503 STAGING_FULL, 413 BLOB_TOO_LARGE as for sessions).
    """
    parse_digest(digest)
    if content_length is None:
        raise InvalidInput("a monolithic blob upload needs a Content-Length header")
    uploads = registry.uploads
    upload_id, writer = await run_in_threadpool(
        lambda: uploads.begin_direct_upload(ctx, digest, content_length, model=model, quota=quota)
    )
    try:
        await receive_body(request, writer)
        return await run_in_threadpool(
            lambda: uploads.finish_direct_upload(
                ctx, upload_id, digest, content_length, model=model
            )
        )
    except BaseException:
        await run_in_threadpool(uploads.discard_direct_upload, ctx, upload_id)
        raise


@router.post(
    "/uploads", response_model=UploadRead, status_code=status.HTTP_201_CREATED, responses=ADMISSION
)
def create_upload(
    ctx: CreateCtx, data: UploadCreate, registry: RegistryDep, quota: QuotaDep
) -> UploadRead:
    """Open a resumable upload session for one blob of `model` (presigned if asked and
    offered).

    403 FORBIDDEN without the right to push to `model`; 400 UPLOAD_MODEL_REQUIRED when
    it names none (see `model`). 413 BLOB_TOO_LARGE past the server's largest blob;
    429 TOO_MANY_UPLOADS when the caller already holds its most open sessions; 503
    STAGING_FULL when open sessions already declare the most bytes the server stages.
    """
    return registry.uploads.create_upload(
        ctx, data.digest, data.size, model=data.model, presigned=data.presigned, quota=quota
    )


@router.get("/uploads/{upload_id}", response_model=UploadRead)
def get_upload(ctx: CreateCtx, upload_id: str, registry: RegistryDep) -> UploadRead:
    """The session's state; ``offset`` is where a resumed upload continues. Another
    principal's session answers 404 UPLOAD_UNKNOWN."""
    return registry.uploads.get_upload(ctx, upload_id)


@router.post("/uploads/{upload_id}/parts", response_model=PresignedUrls)
def part_urls(
    ctx: CreateCtx, upload_id: str, query: PartUrlsQuery, registry: RegistryDep
) -> PresignedUrls:
    """Presigned URLs to PUT parts of a presigned session straight to the blob store.

    Part N holds bytes `[(N-1)·part_size, N·part_size)` of the blob. Send each with a
    plain `PUT` (no credentials, no extra headers); `GET /uploads/{id}` lists the parts
    received, so an interrupted upload sends only the rest.
    """
    return registry.uploads.part_urls(ctx, upload_id, query.numbers)


@router.patch("/uploads/{upload_id}", response_model=UploadRead)
async def append_upload(
    ctx: CreateCtx,
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
        registry.uploads.open_writer, ctx, upload_id, upload_offset, content_length
    )
    await receive_body(request, writer)
    return await run_in_threadpool(registry.uploads.get_upload, ctx, upload_id)


@router.post("/uploads/{upload_id}/complete", response_model=UploadRead)
def complete_upload(
    ctx: CreateCtx, upload_id: str, registry: RegistryDep, data: UploadComplete | None = None
) -> UploadRead:
    """Verify the received bytes against the digest and size, then store the blob and
    link it to the session's model (bytes stored already are verified too, and kept once).

    A session opened without a digest needs `{"digest": ...}` here.
    """
    digest = data.digest if data is not None else None
    return registry.uploads.complete_upload(ctx, upload_id, digest)


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
def abort_upload(ctx: CreateCtx, upload_id: str, registry: RegistryDep) -> None:
    """Cancel a session and free what it staged."""
    registry.uploads.abort_upload(ctx, upload_id)
