"""Search: ``/api/v1/search/models`` and ``/api/v1/search/versions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modeldepot.schemas import ModelRead, Page, VersionRead
from modeldepot.server.auth import ReadCtx
from modeldepot.server.deps import CursorQ, DeletedQ, LimitQ, RegistryDep

router = APIRouter(tags=["search"])
QueryQ = Annotated[
    str,
    Query(
        description="A query in the search language, e.g. "
        '`metrics.auc > 0.9 AND (tags.team = ads OR owner = "risk")`; '
        "a quoted phrase alone searches names, descriptions and cards",
        max_length=100_000,
    ),
]
SortQ = Annotated[
    str | None, Query(description="Field to sort by, `-` first for descending: `-metrics.auc`")
]


@router.get("/search/models", response_model=Page[ModelRead])
def search_models(
    ctx: ReadCtx,
    registry: RegistryDep,
    q: QueryQ = "",
    sort: SortQ = None,
    include_deleted: DeletedQ = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[ModelRead]:
    return registry.found.models(
        ctx, q, sort=sort, cursor=cursor, limit=limit, include_deleted=include_deleted
    )


@router.get("/search/versions", response_model=Page[VersionRead])
def search_versions(
    ctx: ReadCtx,
    registry: RegistryDep,
    q: QueryQ = "",
    sort: SortQ = None,
    include_deleted: DeletedQ = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[VersionRead]:
    return registry.found.versions(
        ctx, q, sort=sort, cursor=cursor, limit=limit, include_deleted=include_deleted
    )
