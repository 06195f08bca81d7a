"""Protected aliases: ``/api/v1/protections``.

Which aliases move only by applying a promotion request (``docs/protection.md``).
Reading the rules needs only a token (a model's rules, that the caller can read it).
The exact checks are ``ProtectionService``'s: a model's maintainer may protect its
aliases; a prefix rule, and removing any rule, are an admin's of the scope.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from modeldepot.schemas.governance import ProtectionCreate, ProtectionRead
from modeldepot.security.roles import Permission
from modeldepot.server.auth import ReadCtx, requires
from modeldepot.server.deps import RegistryDep

router = APIRouter(tags=["protections"])
ProtectCtx = requires(Permission.ALIAS_PROTECT)
GovernanceCtx = requires(Permission.GOVERNANCE_ADMIN)


@router.get("/protections", response_model=list[ProtectionRead])
def list_protections(
    ctx: ReadCtx,
    registry: RegistryDep,
    model: Annotated[str | None, Query(description="Only the rules covering this model")] = None,
) -> list[ProtectionRead]:
    """Every protection rule, or those that cover one model."""
    return registry.protection.list_rules(ctx, model)


@router.post("/protections", response_model=ProtectionRead, status_code=status.HTTP_201_CREATED)
def protect(ctx: ProtectCtx, data: ProtectionCreate, registry: RegistryDep) -> ProtectionRead:
    """Protect an alias of one model (its maintainers) or of every model under a prefix
    (admins of the prefix). Protecting what is already protected changes nothing."""
    return registry.protection.protect(ctx, data.kind, data.scope, data.alias)


@router.delete("/protections", status_code=status.HTTP_204_NO_CONTENT)
def unprotect(
    ctx: GovernanceCtx,
    registry: RegistryDep,
    kind: Annotated[Literal["model", "prefix"], Query(description="The rule's kind")],
    scope: Annotated[str, Query(max_length=200, description='A model, or a prefix ("" all)')],
    alias: Annotated[str, Query(max_length=63, description="The protected alias")],
) -> None:
    """Remove a rule, letting the alias move without review: an admin's of the scope."""
    registry.protection.unprotect(ctx, kind, scope, alias)
