"""Lineage of versions: records, relations, graph, diff, environment, cards and pulls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse

from modeldepot.schemas import CardRead
from modeldepot.schemas.compare import LineageGraph, VersionDiff
from modeldepot.schemas.lineage import LineageRead, RelationCreate, RelationKind
from modeldepot.server.auth import EditCtx, ReadCtx
from modeldepot.server.deps import RegistryDep, VersionNumber

router = APIRouter(tags=["lineage"])
VERSION = "/models/{name:path}/-/versions/{number}"


@router.get(VERSION + "/lineage", response_model=LineageRead)
def get_lineage(
    ctx: ReadCtx, name: str, number: VersionNumber, registry: RegistryDep
) -> LineageRead:
    """Code, environment, datasets, sliced metrics, relations, format and signature."""
    return registry.lineage.get_lineage(ctx, f"{name}:{number}")


@router.post(VERSION + "/relations", response_model=LineageRead)
def add_relation(
    ctx: EditCtx, name: str, number: VersionNumber, data: RelationCreate, registry: RegistryDep
) -> LineageRead:
    """Record that this version was derived from, or depends on, another (no cycles)."""
    return registry.lineage.add_relation(ctx, name, number, data.kind, data.target)


@router.delete(VERSION + "/relations", response_model=LineageRead)
def remove_relation(
    ctx: EditCtx,
    name: str,
    number: VersionNumber,
    kind: RelationKind,
    target: str,
    registry: RegistryDep,
) -> LineageRead:
    return registry.lineage.remove_relation(ctx, name, number, kind, target)


@router.get(VERSION + "/requirements", response_class=PlainTextResponse)
def get_requirements(ctx: ReadCtx, name: str, number: VersionNumber, registry: RegistryDep) -> str:
    """A pip requirements file that recreates the captured environment."""
    return registry.lineage.requirements(ctx, f"{name}:{number}")


@router.get(VERSION + "/card", response_model=CardRead)
def get_version_card(
    ctx: ReadCtx, name: str, number: VersionNumber, registry: RegistryDep
) -> CardRead:
    return registry.versions.get_card(ctx, name, number)


@router.post(VERSION + "/pulls", status_code=status.HTTP_204_NO_CONTENT)
def record_pull(ctx: ReadCtx, name: str, number: VersionNumber, registry: RegistryDep) -> Response:
    """Count a pull of this version by the caller (the SDK reports each pull it makes)."""
    registry.inventory.record_pull(ctx, name, number)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/lineage/graph", response_model=LineageGraph)
def lineage_graph(
    ctx: ReadCtx,
    ref: str,
    registry: RegistryDep,
    depth: Annotated[int, Query(ge=1, le=10, description="Relation hops each way")] = 3,
) -> LineageGraph:
    """Versions upstream and downstream of ``ref``, with their datasets and code."""
    return registry.compare.graph(ctx, ref, depth=depth)


@router.get("/diff", response_model=VersionDiff)
def diff_versions(ctx: ReadCtx, a: str, b: str, registry: RegistryDep) -> VersionDiff:
    """What differs between two versions: params, metrics, tags, datasets, packages,
    code, format and files."""
    return registry.compare.diff(ctx, a, b)
