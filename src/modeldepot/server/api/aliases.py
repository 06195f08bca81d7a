"""Aliases: ``/api/v1/models/{name}/-/aliases…``."""

from __future__ import annotations

from fastapi import APIRouter, status

from modeldepot.schemas import AliasEventRead, AliasRead, AliasSet, Page
from modeldepot.server.auth import AliasCtx, ReadCtx
from modeldepot.server.deps import CursorQ, LimitQ, RegistryDep

router = APIRouter(tags=["aliases"])
PREFIX = "/models/{name:path}/-/aliases"


@router.get(PREFIX, response_model=Page[AliasRead])
def list_aliases(
    ctx: ReadCtx, name: str, registry: RegistryDep, cursor: CursorQ = None, limit: LimitQ = None
) -> Page[AliasRead]:
    return registry.aliases.list_aliases(ctx, name, cursor=cursor, limit=limit)


@router.get("/models/{name:path}/-/alias-history", response_model=Page[AliasEventRead])
def model_alias_history(
    ctx: ReadCtx, name: str, registry: RegistryDep, cursor: CursorQ = None, limit: LimitQ = None
) -> Page[AliasEventRead]:
    """Every alias change of the model, newest first."""
    return registry.aliases.alias_history(ctx, name, cursor=cursor, limit=limit)


@router.get(PREFIX + "/{alias}", response_model=AliasRead)
def get_alias(ctx: ReadCtx, name: str, alias: str, registry: RegistryDep) -> AliasRead:
    return registry.aliases.get_alias(ctx, name, alias)


@router.put(PREFIX + "/{alias}", response_model=AliasRead)
def set_alias(
    ctx: AliasCtx, name: str, alias: str, data: AliasSet, registry: RegistryDep
) -> AliasRead:
    """Create or move an alias; ``expected_version`` makes it a compare-and-set."""
    return registry.aliases.set_alias(
        ctx, name, alias, data.version, expected_version=data.expected_version
    )


@router.delete(PREFIX + "/{alias}", status_code=status.HTTP_204_NO_CONTENT)
def delete_alias(ctx: AliasCtx, name: str, alias: str, registry: RegistryDep) -> None:
    registry.aliases.delete_alias(ctx, name, alias)


@router.get(PREFIX + "/{alias}/history", response_model=Page[AliasEventRead])
def alias_history(
    ctx: ReadCtx,
    name: str,
    alias: str,
    registry: RegistryDep,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[AliasEventRead]:
    return registry.aliases.alias_history(ctx, name, alias, cursor=cursor, limit=limit)
