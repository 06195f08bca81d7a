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
from modeldepot.server.deps import ActorDep, CursorQ, DeletedQ, LimitQ, RegistryDep

router = APIRouter(tags=["models"])


@router.get("/models", response_model=Page[ModelRead])
def list_models(
    registry: RegistryDep,
    prefix: str | None = None,
    include_deleted: DeletedQ = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[ModelRead]:
    return registry.models.list_models(
        prefix=prefix, include_deleted=include_deleted, cursor=cursor, limit=limit
    )


@router.post("/models", response_model=ModelRead, status_code=status.HTTP_201_CREATED)
def create_model(data: ModelCreate, registry: RegistryDep, actor: ActorDep) -> ModelRead:
    return registry.models.create_model(data, actor)


@router.post("/models/{name:path}/-/restore", response_model=ModelRead)
def restore_model(name: str, registry: RegistryDep, actor: ActorDep) -> ModelRead:
    return registry.models.restore_model(name, actor)


@router.put("/models/{name:path}/-/tags/{key:path}", response_model=ModelRead)
def set_model_tag(
    name: str, key: str, data: TagSet, registry: RegistryDep, actor: ActorDep
) -> ModelRead:
    return registry.models.set_tag(name, key, data.value, actor)


@router.delete("/models/{name:path}/-/tags/{key:path}", response_model=ModelRead)
def delete_model_tag(name: str, key: str, registry: RegistryDep, actor: ActorDep) -> ModelRead:
    return registry.models.delete_tag(name, key, actor)


@router.get("/models/{name:path}/-/card", response_model=CardRead)
def get_model_card(name: str, registry: RegistryDep) -> CardRead:
    """The model card, its completeness and the known sections it lacks."""
    return registry.models.get_card(name)


@router.put("/models/{name:path}/-/card", response_model=CardRead)
def set_model_card(name: str, data: CardWrite, registry: RegistryDep, actor: ActorDep) -> CardRead:
    return registry.models.set_card(name, data.card, actor)


@router.delete("/models/{name:path}/-/card", response_model=CardRead)
def delete_model_card(name: str, registry: RegistryDep, actor: ActorDep) -> CardRead:
    return registry.models.set_card(name, None, actor)


def register_model_routes(final: APIRouter) -> None:
    """The bare ``/models/{name}`` routes match any path, so they are added last."""

    @final.get("/models/{name:path}", response_model=ModelRead, tags=["models"])
    def get_model(name: str, registry: RegistryDep, include_deleted: DeletedQ = False) -> ModelRead:
        return registry.models.get_model(name, include_deleted=include_deleted)

    @final.patch("/models/{name:path}", response_model=ModelRead, tags=["models"])
    def update_model(
        name: str, data: ModelUpdate, registry: RegistryDep, actor: ActorDep
    ) -> ModelRead:
        return registry.models.update_model(name, data, actor)

    @final.delete("/models/{name:path}", response_model=ModelRead, tags=["models"])
    def delete_model(name: str, registry: RegistryDep, actor: ActorDep) -> ModelRead:
        return registry.models.delete_model(name, actor)
