"""Models: ``/api/v1/models`` and ``/api/v1/models/{name}``."""

from __future__ import annotations

from fastapi import APIRouter, status

from modeldepot.schemas import (
    CardRead,
    CardWrite,
    ModelCreate,
    ModelRead,
    ModelUpdate,
    Page,
    TagSet,
)
from modeldepot.server.auth import CreateCtx, DeleteCtx, EditCtx, ReadCtx
from modeldepot.server.deps import CursorQ, DeletedQ, LimitQ, RegistryDep

router = APIRouter(tags=["models"])


@router.get("/models", response_model=Page[ModelRead])
def list_models(
    ctx: ReadCtx,
    registry: RegistryDep,
    prefix: str | None = None,
    include_deleted: DeletedQ = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[ModelRead]:
    return registry.models.list_models(
        ctx, prefix=prefix, include_deleted=include_deleted, cursor=cursor, limit=limit
    )


@router.post("/models", response_model=ModelRead, status_code=status.HTTP_201_CREATED)
def create_model(ctx: CreateCtx, data: ModelCreate, registry: RegistryDep) -> ModelRead:
    return registry.models.create_model(ctx, data)


@router.post("/models/{name:path}/-/restore", response_model=ModelRead)
def restore_model(ctx: DeleteCtx, name: str, registry: RegistryDep) -> ModelRead:
    return registry.models.restore_model(ctx, name)


@router.put("/models/{name:path}/-/tags/{key:path}", response_model=ModelRead)
def set_model_tag(
    ctx: EditCtx, name: str, key: str, data: TagSet, registry: RegistryDep
) -> ModelRead:
    return registry.models.set_tag(ctx, name, key, data.value)


@router.delete("/models/{name:path}/-/tags/{key:path}", response_model=ModelRead)
def delete_model_tag(ctx: EditCtx, name: str, key: str, registry: RegistryDep) -> ModelRead:
    return registry.models.delete_tag(ctx, name, key)


@router.get("/models/{name:path}/-/card", response_model=CardRead)
def get_model_card(ctx: ReadCtx, name: str, registry: RegistryDep) -> CardRead:
    """The model card, its completeness and the known sections it lacks."""
    return registry.models.get_card(ctx, name)


@router.put("/models/{name:path}/-/card", response_model=CardRead)
def set_model_card(ctx: EditCtx, name: str, data: CardWrite, registry: RegistryDep) -> CardRead:
    return registry.models.set_card(ctx, name, data.card)


@router.delete("/models/{name:path}/-/card", response_model=CardRead)
def delete_model_card(ctx: EditCtx, name: str, registry: RegistryDep) -> CardRead:
    return registry.models.set_card(ctx, name, None)


def register_model_routes(final: APIRouter) -> None:
    """The bare ``/models/{name}`` routes match any path, so they are added last."""

    @final.get("/models/{name:path}", response_model=ModelRead, tags=["models"])
    def get_model(
        ctx: ReadCtx, name: str, registry: RegistryDep, include_deleted: DeletedQ = False
    ) -> ModelRead:
        return registry.models.get_model(ctx, name, include_deleted=include_deleted)

    @final.patch("/models/{name:path}", response_model=ModelRead, tags=["models"])
    def update_model(
        ctx: EditCtx, name: str, data: ModelUpdate, registry: RegistryDep
    ) -> ModelRead:
        """Descriptions and tags need `contributor`; owner, contacts and risk `maintainer`."""
        return registry.models.update_model(ctx, name, data)

    @final.delete("/models/{name:path}", response_model=ModelRead, tags=["models"])
    def delete_model(ctx: DeleteCtx, name: str, registry: RegistryDep) -> ModelRead:
        return registry.models.delete_model(ctx, name)
