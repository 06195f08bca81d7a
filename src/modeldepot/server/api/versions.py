"""Versions, manifests and files: ``/api/v1/models/{name}/-/versions…`` and ``/resolve``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from modeldepot.refs import parse_ref
from modeldepot.schemas import ManifestRead, Page, TagSet, VersionCreate, VersionRead
from modeldepot.server.auth import CreateCtx, DeleteCtx, EditCtx, ReadCtx
from modeldepot.server.blobs import etag_matches, serve_blob
from modeldepot.server.deps import (
    AtQ,
    CursorQ,
    DeletedQ,
    LimitQ,
    RegistryDep,
    VersionNumber,
    instant,
)
from modeldepot.server.errors import problems

router = APIRouter(tags=["versions"])
PREFIX = "/models/{name:path}/-/versions"


@router.get(PREFIX, response_model=Page[VersionRead])
def list_versions(
    ctx: ReadCtx,
    name: str,
    registry: RegistryDep,
    include_deleted: DeletedQ = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[VersionRead]:
    return registry.versions.list_versions(
        ctx, name, include_deleted=include_deleted, cursor=cursor, limit=limit
    )


@router.post(
    PREFIX,
    response_model=VersionRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": VersionRead, "description": "Repeated push_id: the version it made"}},
)
def create_version(
    ctx: CreateCtx, name: str, data: VersionCreate, registry: RegistryDep
) -> Response:
    """Commit a version whose blobs are uploaded; the model is created if new. With
    `aliases`, they point at the new version in the same transaction."""
    version, created = registry.versions.create_version(ctx, name, data)
    headers = {
        "ETag": f'"{version.digest}"',
        "Location": f"/api/v1/models/{name}/-/versions/{version.number}",
    }
    # Serialised here: the service built the schema, re-validating it would be waste.
    return Response(
        version.model_dump_json(),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        media_type="application/json",
        headers=headers,
    )


@router.get(PREFIX + "/{number}", response_model=VersionRead)
def get_version(
    ctx: ReadCtx,
    name: str,
    number: VersionNumber,
    registry: RegistryDep,
    request: Request,
    include_deleted: DeletedQ = False,
) -> VersionRead | Response:
    version = registry.versions.get_version(ctx, name, number, include_deleted=include_deleted)
    return _with_etag(version, request)


@router.delete(PREFIX + "/{number}", response_model=VersionRead)
def delete_version(
    ctx: DeleteCtx, name: str, number: VersionNumber, registry: RegistryDep
) -> VersionRead:
    return registry.versions.delete_version(ctx, name, number)


@router.post(PREFIX + "/{number}/restore", response_model=VersionRead)
def restore_version(
    ctx: DeleteCtx, name: str, number: VersionNumber, registry: RegistryDep
) -> VersionRead:
    return registry.versions.restore_version(ctx, name, number)


@router.get(PREFIX + "/{number}/manifest", response_model=ManifestRead, responses=problems(409))
def get_manifest(
    ctx: ReadCtx,
    name: str,
    number: VersionNumber,
    registry: RegistryDep,
    include_deleted: DeletedQ = False,
    allow_revoked: Annotated[
        bool, Query(description="Answer even for a revoked version (else 409 VERSION_REVOKED)")
    ] = False,
) -> ManifestRead:
    """The files of a version: what a pull fetches. Refused for a revoked version
    (409 `VERSION_REVOKED`) unless `allow_revoked=true`."""
    return registry.versions.get_manifest(
        ctx, f"{name}:{number}", include_deleted=include_deleted, allow_revoked=allow_revoked
    )


@router.get(
    PREFIX + "/{number}/files/{path:path}", response_class=Response, responses=problems(416)
)
def download_file(
    ctx: ReadCtx,
    name: str,
    number: VersionNumber,
    path: str,
    registry: RegistryDep,
    request: Request,
) -> Response:
    """One file of a version, with Range support (HEAD for headers only)."""
    return serve_blob(registry.blobs.open_file(ctx, f"{name}:{number}", path), request)


router.add_api_route(
    PREFIX + "/{number}/files/{path:path}",
    download_file,
    methods=["HEAD"],
    response_class=Response,
    responses=problems(416),
    operation_id="head_file",
    summary="File Headers",
)


@router.put(PREFIX + "/{number}/tags/{key:path}", response_model=VersionRead)
def set_version_tag(
    ctx: EditCtx, name: str, number: VersionNumber, key: str, data: TagSet, registry: RegistryDep
) -> VersionRead:
    return registry.versions.set_tag(ctx, name, number, key, data.value)


@router.delete(PREFIX + "/{number}/tags/{key:path}", response_model=VersionRead)
def delete_version_tag(
    ctx: EditCtx, name: str, number: VersionNumber, key: str, registry: RegistryDep
) -> VersionRead:
    return registry.versions.delete_tag(ctx, name, number, key)


@router.get("/resolve", response_model=VersionRead)
def resolve(
    ctx: ReadCtx,
    ref: str,
    registry: RegistryDep,
    request: Request,
    include_deleted: DeletedQ = False,
    at: AtQ = None,
) -> VersionRead | Response:
    """The version a reference names: ``name``, ``name:7``, ``name@alias``, ``name@sha256:…``,
    ``models:/name/7`` or ``models:/name@alias``; with ``at``, the one it named then."""
    version = registry.versions.resolve(
        ctx, parse_ref(ref), include_deleted=include_deleted, at=instant(at)
    )
    return _with_etag(version, request)


def _with_etag(version: VersionRead, request: Request) -> VersionRead | Response:
    """Versions carry their digest as ETag; a matching If-None-Match gets 304."""
    etag = f'"{version.digest}"'
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    body = version.model_dump_json()
    return Response(body, media_type="application/json", headers={"ETag": etag})
