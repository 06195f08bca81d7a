"""Identities: ``/api/v1/whoami``, ``/auth/token``, ``/tokens``, ``/principals``,
``/groups`` and ``/grants``.

Each route declares what it needs at the edge; who may act on which account, group or
grant is decided by ``IdentityService`` (an account may read and edit itself, a
maintainer may grant below its role), so no face can skip it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status

from modeldepot.schemas import (
    GrantCreate,
    GrantRead,
    GroupCreate,
    GroupRead,
    LoginRequest,
    Page,
    PrincipalCreate,
    PrincipalRead,
    PrincipalUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
    WhoAmI,
)
from modeldepot.security.roles import Role
from modeldepot.server.auth import AdminCtx, GrantCtx, PublicCtx, SelfCtx
from modeldepot.server.deps import CursorQ, LimitQ, RegistryDep

router = APIRouter(tags=["identity"])
GrantId = Annotated[int, Path(ge=1, le=2**31 - 1, description="`id` of a grant")]
KindQ = Annotated[Literal["user", "service"] | None, Query(description="Only this kind")]


@router.get("/whoami", response_model=WhoAmI)
def whoami(ctx: SelfCtx, registry: RegistryDep) -> WhoAmI:
    """The caller: name, kind, roles, groups, and the token it authenticated with."""
    return registry.identity.whoami(ctx)


@router.post("/auth/token", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def login(ctx: PublicCtx, data: LoginRequest, registry: RegistryDep) -> TokenCreated:
    """Exchange a user's name and password for a new API token (shown once). Failures
    answer UNAUTHENTICATED without saying which part was wrong, and are rate-limited
    per address and per user name (AUTH_RATE_LIMITED)."""
    return registry.authenticator.login(
        ctx, data.username, data.password, token_name=data.token_name, expires_at=data.expires_at
    )


# Tokens --------------------------------------------------------------------------------


@router.get("/tokens", response_model=Page[TokenRead])
def list_tokens(
    ctx: SelfCtx,
    registry: RegistryDep,
    owner: Annotated[str | None, Query(description="Admins: another account's")] = None,
    everyone: Annotated[bool, Query(alias="all", description="Admins: every token")] = False,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[TokenRead]:
    """The caller's tokens, revoked and expired ones included; never a secret."""
    return registry.identity.list_tokens(
        ctx, owner=owner, everyone=everyone, cursor=cursor, limit=limit
    )


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(ctx: SelfCtx, data: TokenCreate, registry: RegistryDep) -> TokenCreated:
    """A new token; the answer is the only time its secret is shown."""
    return registry.identity.create_token(
        ctx,
        data.name,
        scope_prefix=data.scope.prefix if data.scope else None,
        scope_role=Role.parse(data.scope.role) if data.scope else None,
        expires_at=data.expires_at,
        owner=data.owner,
    )


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(ctx: SelfCtx, token_id: str, registry: RegistryDep) -> TokenRead:
    """Revoke a token (one's own; an admin's: anyone's). It stops working at once on
    this server, within `MODELDEPOT_AUTH_CACHE_SECONDS` on the others."""
    return registry.identity.revoke_token(ctx, token_id)


# Users and service accounts ------------------------------------------------------------


@router.get("/principals", response_model=Page[PrincipalRead])
def list_principals(
    ctx: AdminCtx,
    registry: RegistryDep,
    kind: KindQ = None,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[PrincipalRead]:
    return registry.identity.list_principals(ctx, kind=kind, cursor=cursor, limit=limit)


@router.post("/principals", response_model=PrincipalRead, status_code=status.HTTP_201_CREATED)
def create_principal(ctx: AdminCtx, data: PrincipalCreate, registry: RegistryDep) -> PrincipalRead:
    """A user (optionally with a password) or a service account (`kind: service`)."""
    return registry.identity.create_principal(
        ctx, data.name, kind=data.kind, display_name=data.display_name, password=data.password
    )


@router.get("/principals/{name}", response_model=PrincipalRead)
def get_principal(ctx: SelfCtx, name: str, registry: RegistryDep) -> PrincipalRead:
    """An account: to an admin, or to itself."""
    return registry.identity.get_principal(ctx, name)


@router.patch("/principals/{name}", response_model=PrincipalRead)
def update_principal(
    ctx: SelfCtx, name: str, data: PrincipalUpdate, registry: RegistryDep
) -> PrincipalRead:
    """Change a display name or password (one's own, or as an admin anyone's); an admin
    may also disable, enable, or clear a password."""
    return registry.identity.update_principal(
        ctx,
        name,
        display_name=data.display_name,
        password=data.password,
        clear_password=data.clear_password,
        disabled=data.disabled,
    )


@router.delete("/principals/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_principal(ctx: AdminCtx, name: str, registry: RegistryDep) -> None:
    """Delete an account with its tokens, grants and group memberships."""
    registry.identity.delete_principal(ctx, name)


# Groups -------------------------------------------------------------------------------


@router.get("/groups", response_model=Page[GroupRead])
def list_groups(
    ctx: AdminCtx, registry: RegistryDep, cursor: CursorQ = None, limit: LimitQ = None
) -> Page[GroupRead]:
    return registry.identity.list_groups(ctx, cursor=cursor, limit=limit)


@router.post("/groups", response_model=GroupRead, status_code=status.HTTP_201_CREATED)
def create_group(ctx: AdminCtx, data: GroupCreate, registry: RegistryDep) -> GroupRead:
    return registry.identity.create_group(ctx, data.name, description=data.description)


@router.get("/groups/{name}", response_model=GroupRead)
def get_group(ctx: AdminCtx, name: str, registry: RegistryDep) -> GroupRead:
    return registry.identity.get_group(ctx, name)


@router.delete("/groups/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_group(ctx: AdminCtx, name: str, registry: RegistryDep) -> None:
    registry.identity.delete_group(ctx, name)


@router.put("/groups/{name}/members/{member}", response_model=GroupRead)
def add_member(ctx: AdminCtx, name: str, member: str, registry: RegistryDep) -> GroupRead:
    return registry.identity.add_member(ctx, name, member)


@router.delete("/groups/{name}/members/{member}", response_model=GroupRead)
def remove_member(ctx: AdminCtx, name: str, member: str, registry: RegistryDep) -> GroupRead:
    return registry.identity.remove_member(ctx, name, member)


# Grants -------------------------------------------------------------------------------


@router.get("/grants", response_model=Page[GrantRead])
def list_grants(
    ctx: GrantCtx,
    registry: RegistryDep,
    subject: Annotated[str | None, Query(description="Only this user, account or group")] = None,
    prefix: Annotated[str | None, Query(description="Only on exactly this prefix")] = None,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[GrantRead]:
    """The grants the caller may see: all to an admin; else its own and its groups',
    and those on the prefixes it maintains."""
    return registry.identity.list_grants(
        ctx, subject=subject, prefix=prefix, cursor=cursor, limit=limit
    )


@router.post("/grants", response_model=GrantRead, status_code=status.HTTP_201_CREATED)
def create_grant(ctx: GrantCtx, data: GrantCreate, registry: RegistryDep) -> GrantRead:
    """Grant a role on a prefix (replacing the subject's role there). An admin may grant
    anything; a maintainer, roles below its own under the prefixes it maintains."""
    return registry.identity.grant(ctx, data.subject, data.prefix, Role.parse(data.role))


@router.delete("/grants/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_grant(ctx: GrantCtx, grant_id: GrantId, registry: RegistryDep) -> None:
    registry.identity.revoke_grant(ctx, grant_id)
