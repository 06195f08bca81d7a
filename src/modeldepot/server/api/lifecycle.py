"""A version's lifecycle: ``…/versions/{n}/deprecate|revoke|reinstate`` and
``/datasets/-/revoke`` (revoke every version made from a dataset)."""

from __future__ import annotations

from fastapi import APIRouter

from modeldepot.schemas import VersionRead
from modeldepot.schemas.lifecycle import DatasetRevoke, Deprecation, RevocationPlan, StatusChange
from modeldepot.security.roles import Permission
from modeldepot.server.auth import ReadCtx, requires
from modeldepot.server.deps import RegistryDep, VersionNumber

router = APIRouter(tags=["lifecycle"])
PREFIX = "/models/{name:path}/-/versions/{number}"
StatusCtx = requires(Permission.VERSION_STATUS)


@router.post(PREFIX + "/deprecate", response_model=VersionRead)
def deprecate_version(
    ctx: StatusCtx, name: str, number: VersionNumber, data: Deprecation, registry: RegistryDep
) -> VersionRead:
    """Deprecate a version: pulls still work, with a warning naming the replacement."""
    return registry.lifecycle.deprecate(ctx, name, number, data.reason, data.replacement)


@router.post(PREFIX + "/revoke", response_model=VersionRead)
def revoke_version(
    ctx: StatusCtx, name: str, number: VersionNumber, data: StatusChange, registry: RegistryDep
) -> VersionRead:
    """Revoke a version: its manifest is refused (409 `VERSION_REVOKED`) unless asked
    with `allow_revoked=true`. Revoking it again changes nothing."""
    return registry.lifecycle.revoke(ctx, name, number, data.reason)


@router.post(PREFIX + "/reinstate", response_model=VersionRead)
def reinstate_version(
    ctx: StatusCtx, name: str, number: VersionNumber, data: StatusChange, registry: RegistryDep
) -> VersionRead:
    """Make a deprecated or revoked version active again."""
    return registry.lifecycle.reinstate(ctx, name, number, data.reason)


@router.post("/datasets/-/revoke", response_model=RevocationPlan)
def revoke_by_dataset(ctx: ReadCtx, data: DatasetRevoke, registry: RegistryDep) -> RevocationPlan:
    """The plan of revoking every version that used a dataset, and the protected
    aliases to roll back; with `apply: true` (which needs the right to change version
    status on every model in the plan) it is carried out. A dry run by default."""
    return registry.lifecycle.revoke_by_dataset(
        ctx, data.dataset, data.reason, apply=data.apply, digest=data.digest
    )
