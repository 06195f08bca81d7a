"""The inventory: ``/api/v1/inventory`` as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from modeldepot.schemas.inventory import Inventory
from modeldepot.server.auth import ReadCtx
from modeldepot.server.deps import RegistryDep

router = APIRouter(tags=["inventory"])


@router.get(
    "/inventory",
    response_model=Inventory,
    responses={200: {"content": {"text/csv": {}}, "description": "The inventory"}},
)
def get_inventory(
    ctx: ReadCtx,
    registry: RegistryDep,
    prefix: str | None = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Inventory | Response:
    """Every live model: owner, risk, aliases, last change, personal data, dependencies
    and pulls."""
    if format == "json":
        return registry.inventory.inventory(ctx, prefix=prefix)
    return Response(
        registry.inventory.inventory_csv(ctx, prefix=prefix),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="inventory.csv"'},
    )
