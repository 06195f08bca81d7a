"""Policies and freezes: ``/api/v1/policies`` and ``/api/v1/freezes``.

Applying and removing a policy, declaring and lifting a freeze need
``governance:admin`` on the prefix concerned (checked by the services, which know the
prefix); reading either needs only a credential.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from modeldepot.schemas.common import Page
from modeldepot.schemas.governance import MAX_VERSION
from modeldepot.schemas.policies import (
    FreezeCreate,
    FreezeRead,
    PolicyApply,
    PolicyDiff,
    PolicyRead,
)
from modeldepot.security.roles import Permission
from modeldepot.server.auth import ReadCtx, requires
from modeldepot.server.deps import CursorQ, LimitQ, RegistryDep

router = APIRouter(tags=["policies"])
GovernanceCtx = requires(Permission.GOVERNANCE_ADMIN)
PolicyName = Annotated[str, Path(max_length=128, description="The policy's name")]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]
FreezeId = Annotated[int, Path(ge=1, le=MAX_VERSION, description="`id` of a freeze")]


@router.post(
    "/policies",
    response_model=PolicyRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": PolicyRead, "description": "Unchanged: the version in force"}},
)
def apply_policy(
    ctx: GovernanceCtx, data: PolicyApply, registry: RegistryDep, response: Response
) -> PolicyRead:
    """Apply a policy's YAML: 201 with its new version when it changed, else 200 with
    the version in force."""
    applied = registry.policies.apply_policy(ctx, data.source)
    if not applied.created:
        response.status_code = status.HTTP_200_OK
    return applied.policy


@router.get("/policies", response_model=Page[PolicyRead])
def list_policies(
    ctx: ReadCtx, registry: RegistryDep, cursor: CursorQ = None, limit: LimitQ = None
) -> Page[PolicyRead]:
    """The policies in force, by name."""
    return registry.policies.list_policies(ctx, cursor=cursor, limit=limit)


@router.get("/policies/{name}", response_model=PolicyRead)
def get_policy(ctx: ReadCtx, name: PolicyName, registry: RegistryDep) -> PolicyRead:
    """The version in force of a policy."""
    return registry.policies.get(ctx, name)


@router.delete("/policies/{name}", response_model=PolicyRead)
def remove_policy(ctx: GovernanceCtx, name: PolicyName, registry: RegistryDep) -> PolicyRead:
    """Remove a policy: a last version that ends it (its history stays)."""
    return registry.policies.remove(ctx, name)


@router.get("/policies/{name}/versions", response_model=list[PolicyRead])
def policy_history(ctx: ReadCtx, name: PolicyName, registry: RegistryDep) -> list[PolicyRead]:
    """Every version of a policy, oldest first."""
    return registry.policies.history(ctx, name)


@router.get("/policies/{name}/versions/{version}", response_model=PolicyRead)
def get_policy_version(
    ctx: ReadCtx, name: PolicyName, version: VersionNumber, registry: RegistryDep
) -> PolicyRead:
    return registry.policies.get(ctx, name, version)


@router.get("/policies/{name}/diff", response_model=PolicyDiff)
def diff_policy(
    ctx: ReadCtx,
    name: PolicyName,
    registry: RegistryDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)],
) -> PolicyDiff:
    """A unified diff of the YAML sources of two versions."""
    text = registry.policies.diff(ctx, name, from_version, to_version)
    return PolicyDiff(name=name, from_version=from_version, to_version=to_version, diff=text)


@router.post("/freezes", response_model=FreezeRead, status_code=status.HTTP_201_CREATED)
def create_freeze(ctx: GovernanceCtx, data: FreezeCreate, registry: RegistryDep) -> FreezeRead:
    """Freeze a namespace prefix: no promotion request is applied under it meanwhile."""
    return registry.freezes.create(ctx, data.prefix, data.reason, data.starts_at, data.ends_at)


@router.get("/freezes", response_model=Page[FreezeRead])
def list_freezes(
    ctx: ReadCtx,
    registry: RegistryDep,
    everyone: Annotated[
        bool, Query(alias="all", description="Lifted and ended freezes too")
    ] = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[FreezeRead]:
    """Freezes in force or scheduled, newest first (every one with ``all``)."""
    return registry.freezes.list(ctx, active_only=not everyone, cursor=cursor, limit=limit)


@router.delete("/freezes/{freeze_id}", response_model=FreezeRead)
def lift_freeze(ctx: GovernanceCtx, freeze_id: FreezeId, registry: RegistryDep) -> FreezeRead:
    """Lift a freeze now."""
    return registry.freezes.lift(ctx, freeze_id)
