"""The edge of identity: the request's ``Context``, and the permission each route needs.

Every API route declares what it needs with ``Requires(Permission.X)`` (or is
``PUBLIC``); ``tests/api/test_route_permissions.py`` walks the route table and fails
on a route without a declaration. The declaration authenticates the caller and builds
the context once; the exact namespace check happens in the service, which knows the
name (``uow.require``), so no face can skip it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from modeldepot.errors import Unauthenticated
from modeldepot.security.access import NOTHING, Access, Grant
from modeldepot.security.authenticator import Authenticator
from modeldepot.security.context import ANONYMOUS, Context
from modeldepot.security.roles import Permission, Role
from modeldepot.server.requestid import current_request_id

ANONYMOUS_ACCESS = {
    "none": None,
    "read": Access((Grant("", Role.READER),)),
    "write": Access((Grant("", Role.MAINTAINER),)),
}
CONTEXT_STATE = "context"


class Requires:
    """A route's declaration: the caller must be authenticated (or anonymous access
    allowed) and, for registry-wide permissions, hold them on ``/``."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Context:
        ctx = await request_context(request)
        if self.permission is Permission.REGISTRY_ADMIN:
            ctx.access.require(self.permission)
        return ctx

    def __repr__(self) -> str:
        return f"Requires({self.permission.value})"


class Public(Requires):
    """The declaration of the one route a caller without a credential must reach:
    exchanging a password for a token. Its context is anonymous and may do nothing;
    an ``Authorization`` header, if any, is ignored."""

    public = True  # for the route-table walk: declared, and deliberately open

    def __init__(self) -> None:
        super().__init__(Permission.SELF)

    async def __call__(self, request: Request) -> Context:
        client = request.client.host if request.client is not None else None
        ctx = Context(ANONYMOUS, NOTHING, request_id=current_request_id(), client=client)
        setattr(request.state, CONTEXT_STATE, ctx)
        return ctx

    def __repr__(self) -> str:
        return "Public()"


async def request_context(request: Request) -> Context:
    """The context of ``request``, built on first use and kept on the request."""
    known = getattr(request.state, CONTEXT_STATE, None)
    if known is not None:
        return known  # type: ignore[no-any-return]
    ctx = await _build(request)
    setattr(request.state, CONTEXT_STATE, ctx)
    return ctx


async def _build(request: Request) -> Context:
    client = request.client.host if request.client is not None else None
    request_id = current_request_id()
    authenticator: Authenticator = request.app.state.registry.authenticator
    header = request.headers.get("authorization")
    if header is None:
        anonymous = ANONYMOUS_ACCESS[request.app.state.registry.settings.anonymous]
        if anonymous is None:
            authenticator.check_address(client)
            raise Unauthenticated(
                "this registry needs a token: send `Authorization: Bearer <token>` "
                "(`modeldepot login`, or MODELDEPOT_TOKEN)"
            )
        return Context(ANONYMOUS, anonymous, request_id=request_id, client=client)
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        authenticator.check_address(client)
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    auth = authenticator.cached(credential)
    if auth is None:
        auth = await run_in_threadpool(authenticator.authenticate, credential, client)
    return Context(
        auth.principal, auth.access, request_id=request_id, client=client, token_id=auth.token_id
    )


def requires(permission: Permission) -> Any:
    return Annotated[Context, Depends(Requires(permission))]


# The declarations routes use, one per permission.
ReadCtx = requires(Permission.MODEL_READ)
CreateCtx = requires(Permission.VERSION_CREATE)
EditCtx = requires(Permission.METADATA_EDIT)
ManageCtx = requires(Permission.MODEL_MANAGE)
AliasCtx = requires(Permission.ALIAS_MOVE)
DeleteCtx = requires(Permission.DELETE)
GrantCtx = requires(Permission.GRANT_MANAGE)
AuditCtx = requires(Permission.AUDIT_READ)
AdminCtx = requires(Permission.REGISTRY_ADMIN)
# Any authenticated caller, acting on itself only (whoami, its own tokens).
SelfCtx = requires(Permission.SELF)
# No credential needed (``POST /auth/token`` only).
PublicCtx = Annotated[Context, Depends(Public())]
RequestCtx = requires(Permission.REQUEST_OPEN)
ReviewCtx = requires(Permission.REQUEST_REVIEW)
CheckCtx = requires(Permission.CHECK_POST)
