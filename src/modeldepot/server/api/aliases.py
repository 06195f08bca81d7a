"""Aliases: ``/api/v1/models/{name}/-/aliases…``."""

from __future__ import annotations

from fastapi import APIRouter, status

from modeldepot.schemas import AliasEventRead, AliasRead, AliasSet, Page
from modeldepot.server.deps import ActorDep, CursorQ, LimitQ, RegistryDep

router = APIRouter(tags=["aliases"])
PREFIX = "/models/{name:path}/-/aliases"


@router.get(PREFIX, response_model=Page[AliasRead])
def list_aliases(
    name: str, registry: RegistryDep, cursor: CursorQ = None, limit: LimitQ = None
) -> Page[AliasRead]:
    return registry.aliases.list_aliases(name, cursor=cursor, limit=limit)


@router.get("/models/{name:path}/-/alias-history", response_model=Page[AliasEventRead])
def model_alias_history(
    name: str, registry: RegistryDep, cursor: CursorQ = None, limit: LimitQ = None
) -> Page[AliasEventRead]:
    """Every alias change of the model, newest first."""
    return registry.aliases.alias_history(name, cursor=cursor, limit=limit)


@router.get(PREFIX + "/{alias}", response_model=AliasRead)
def get_alias(name: str, alias: str, registry: RegistryDep) -> AliasRead:
    return registry.aliases.get_alias(name, alias)


@router.put(PREFIX + "/{alias}", response_model=AliasRead)
def set_alias(
    name: str, alias: str, data: AliasSet, registry: RegistryDep, actor: ActorDep
) -> AliasRead:
    """Create or move an alias; ``expected_version`` makes it a compare-and-set."""
    return registry.aliases.set_alias(
        name, alias, data.version, actor, expected_version=data.expected_version
    )


@router.delete(PREFIX + "/{alias}", status_code=status.HTTP_204_NO_CONTENT)
def delete_alias(name: str, alias: str, registry: RegistryDep, actor: ActorDep) -> None:
    registry.aliases.delete_alias(name, alias, actor)


@router.get(PREFIX + "/{alias}/history", response_model=Page[AliasEventRead])
def alias_history(
    name: str, alias: str, registry: RegistryDep, cursor: CursorQ = None, limit: LimitQ = None
) -> Page[AliasEventRead]:
    return registry.aliases.alias_history(name, alias, cursor=cursor, limit=limit)
