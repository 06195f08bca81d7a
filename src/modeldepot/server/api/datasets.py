"""Datasets: ``/api/v1/datasets``, their use by versions and the aliases that depend on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from modeldepot.schemas import Page
from modeldepot.schemas.datasets import AliasImpact, DatasetUsage
from modeldepot.schemas.lineage import DatasetRead
from modeldepot.server.auth import ReadCtx
from modeldepot.server.deps import CursorQ, DeletedQ, LimitQ, RegistryDep

router = APIRouter(tags=["datasets"])
UriQ = Annotated[str, Query(description="The dataset's URI", max_length=1000)]
DigestQ = Annotated[
    str | None, Query(description="One snapshot's digest; all snapshots if left out")
]


@router.get("/datasets", response_model=Page[DatasetRead])
def list_datasets(
    ctx: ReadCtx,
    registry: RegistryDep,
    uri_prefix: str | None = None,
    personal_data: bool | None = None,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[DatasetRead]:
    return registry.datasets.list_datasets(
        ctx, uri_prefix=uri_prefix, personal_data=personal_data, cursor=cursor, limit=limit
    )


@router.get("/datasets/usage", response_model=Page[DatasetUsage])
def dataset_usage(
    ctx: ReadCtx,
    uri: UriQ,
    registry: RegistryDep,
    digest: DigestQ = None,
    include_deleted: DeletedQ = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[DatasetUsage]:
    """Which versions used this dataset?"""
    return registry.datasets.versions_using(
        ctx, uri, digest, include_deleted=include_deleted, cursor=cursor, limit=limit
    )


@router.get("/datasets/impact", response_model=list[AliasImpact])
def dataset_impact(
    ctx: ReadCtx, uri: UriQ, registry: RegistryDep, digest: DigestQ = None
) -> list[AliasImpact]:
    """Which aliases point at versions that used this dataset?"""
    return registry.datasets.impact(ctx, uri, digest)


@router.get("/datasets/{dataset_id}", response_model=DatasetRead)
def get_dataset(
    ctx: ReadCtx, dataset_id: Annotated[int, Path(ge=1, le=2**31 - 1)], registry: RegistryDep
) -> DatasetRead:
    return registry.datasets.get_dataset(ctx, dataset_id)
