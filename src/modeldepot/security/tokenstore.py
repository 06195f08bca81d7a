"""API tokens as rows: issue (the secret shown once), list (never a secret), revoke.

A token never does more than its owner, and a token never makes one that does more
than itself: a token created through a scoped token stays within that scope, and one
created through an expiring token expires no later than it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, insert, select, update

from modeldepot.db.tables import principals, tokens
from modeldepot.errors import Forbidden, InvalidInput, TokenNotFound, Unauthenticated
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.schemas.common import Page
from modeldepot.schemas.identity import TokenCreated, TokenRead
from modeldepot.security import tokens as token_format
from modeldepot.security.access import Access, Scope
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission, Role, covers, normalize_prefix, show_prefix
from modeldepot.security.rows import (
    TOKEN_COLUMNS,
    check_text,
    load_grants,
    principal_row,
    token_read,
)

if TYPE_CHECKING:
    from modeldepot.registry.unit import UnitOfWork, Units

_ID = re.compile(r"^[a-z2-7]{12}$")  # a token's public id (see security/tokens.py)


class TokenMethods:
    """The API tokens part of ``IdentityService``."""

    units: Units

    if TYPE_CHECKING:

        def _forget(self) -> None: ...

    def create_token(
        self,
        ctx: Context,
        name: str,
        *,
        scope_prefix: str | None = None,
        scope_role: Role | None = None,
        expires_at: datetime | None = None,
        owner: str | None = None,
    ) -> TokenCreated:
        """A new token of the caller's (or, for an admin, of ``owner``'s: a service
        account's, say), capped to ``scope_role`` on ``scope_prefix`` if given.

        Forbidden if the scope asks for a role the owner does not hold there, or
        reaches beyond the scope of the token the caller used.
        """
        expires_at = as_utc(expires_at)
        requested = None
        if scope_prefix is not None or scope_role is not None:
            requested = Scope(normalize_prefix(scope_prefix or ""), scope_role or Role.ADMIN)
        with self.units.write(ctx) as uow:
            if owner is not None and owner != ctx.name:
                uow.require(Permission.REGISTRY_ADMIN)
                row = principal_row(uow.conn, owner)
                held = Access(load_grants(uow.conn, row.id))
                owner_id, owner_name = int(row.id), row.name
            else:
                owner_id, owner_name = _own_id(ctx), ctx.name
                held = ctx.access
                requested, expires_at = _within_own_token(uow, requested, expires_at)
            if requested is not None and scope_role is not None:
                role = held.role_on(requested.prefix)
                if role is None or role < requested.role:
                    raise Forbidden(
                        f"{owner_name} does not hold {requested.role.label} on "
                        f"{show_prefix(requested.prefix)}",
                        permission=Permission.SELF.value,
                    )
            return insert_token(uow, owner_id, owner_name, name, requested, expires_at)

    def list_tokens(
        self,
        ctx: Context,
        *,
        owner: str | None = None,
        everyone: bool = False,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[TokenRead]:
        """The caller's tokens (an admin may ask for ``owner``'s, or ``everyone``'s),
        revoked and expired ones included; never a secret."""
        size = check_limit(limit)
        with self.units.read(ctx) as reading:
            query = (
                select(*TOKEN_COLUMNS)
                .join(principals, principals.c.id == tokens.c.principal_id)
                .order_by(tokens.c.id)
                .limit(size + 1)
            )
            if everyone or (owner is not None and owner != ctx.name):
                reading.require(Permission.REGISTRY_ADMIN)
                if not everyone:
                    query = query.where(
                        principals.c.name == principal_row(reading.conn, owner).name
                    )  # type: ignore[arg-type]
            else:
                query = query.where(tokens.c.principal_id == _own_id(ctx))
            if cursor is not None:
                (after,) = decode_cursor(cursor, str)
                query = query.where(tokens.c.id > after)
            rows = reading.conn.execute(query).all()
        items = [token_read(row) for row in rows[:size]]
        more = len(rows) > size
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)

    def revoke_token(self, ctx: Context, token_id: str) -> TokenRead:
        """Revoke a token of the caller's (an admin: anyone's). Revoking a revoked token
        changes nothing; another's token answers TokenNotFound to a non-admin."""
        with self.units.write(ctx) as uow:
            row = _token_row(uow, token_id) if _ID.fullmatch(token_id) else None
            if row is None or (row.principal_id != ctx.principal.id and not ctx.access.is_admin):
                raise TokenNotFound(f"you have no token {token_id!r}", token=token_id)
            scope = ctx.access.scope
            if row.id != ctx.token_id and scope is not None and not _inside(row, scope):
                raise Forbidden(
                    "a scoped token can only revoke itself and tokens within its scope",
                    permission=Permission.SELF.value,
                )
            if row.revoked_at is None:
                uow.conn.execute(
                    update(tokens)
                    .where(tokens.c.id == token_id)
                    .values(revoked_at=uow.now, revoked_by=ctx.name)
                )
                uow.record(
                    "token.revoke",
                    f"token/{token_id}",
                    after={"id": token_id, "owner": row.owner, "name": row.name},
                )
            result = token_read(_token_row(uow, token_id))  # type: ignore[arg-type]
        self._forget()
        return result


def insert_token(
    uow: UnitOfWork,
    principal_id: int,
    owner: str,
    name: str,
    scope: Scope | None,
    expires_at: datetime | None,
    given: token_format.NewToken | None = None,
) -> TokenCreated:
    """Store a new token (``given``, else a generated one) and record ``token.create``."""
    if not name or len(name) > 128:
        raise InvalidInput("a token name is 1 to 128 characters")
    check_text(name, "a token name")
    expires_at = as_utc(expires_at)
    if expires_at is not None and expires_at <= uow.now:
        raise InvalidInput("a token's expiry must be in the future")
    new = given or token_format.generate()
    uow.conn.execute(
        insert(tokens).values(
            id=new.id,
            principal_id=principal_id,
            name=name,
            secret_hash=new.secret_hash,
            scope_prefix=scope.prefix if scope else None,
            scope_role=int(scope.role) if scope else None,
            expires_at=expires_at,
            created_at=uow.now,
            created_by=uow.ctx.name,
        )
    )
    shown = {"prefix": show_prefix(scope.prefix), "role": scope.role.label} if scope else None
    uow.record(
        "token.create",
        f"token/{new.id}",
        after={
            "id": new.id,
            "owner": owner,
            "name": name,
            "scope": shown,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    row = _token_row(uow, new.id)
    assert row is not None
    return TokenCreated(**token_read(row).model_dump(), token=new.text)


def as_utc(value: datetime | None) -> datetime | None:
    """An instant without an offset is taken as UTC (as everywhere in the API)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _own_id(ctx: Context) -> int:
    if ctx.principal.id is None:
        if ctx.principal.kind == "anonymous":
            raise Unauthenticated("tokens belong to accounts: authenticate first")
        raise InvalidInput(f"{ctx.principal.kind} callers have no tokens of their own")
    return ctx.principal.id


def _within_own_token(
    uow: UnitOfWork, requested: Scope | None, expires_at: datetime | None
) -> tuple[Scope | None, datetime | None]:
    """The scope and expiry of a token made through the caller's token: no wider, no
    later (defaulting to the caller's own)."""
    ctx = uow.ctx
    mine = ctx.access.scope
    if mine is not None:
        if requested is None:
            requested = mine
        elif not covers(mine.prefix, requested.prefix) or requested.role > mine.role:
            raise Forbidden(
                f"this token is scoped to {mine.role.label} on {show_prefix(mine.prefix)}: "
                "it can only create tokens within that",
                permission=Permission.SELF.value,
            )
    if ctx.token_id is not None:
        until = uow.conn.execute(
            select(tokens.c.expires_at).where(tokens.c.id == ctx.token_id)
        ).scalar_one_or_none()
        if until is not None:
            if expires_at is None:
                expires_at = until
            elif expires_at > until:
                raise Forbidden(
                    "a token cannot outlive the token that creates it",
                    permission=Permission.SELF.value,
                )
    return requested, expires_at


def _inside(row: Row[Any], scope: Scope) -> bool:
    prefix, role = row.scope_prefix, row.scope_role
    return (
        prefix is not None
        and role is not None
        and covers(scope.prefix, prefix)
        and (Role(role) <= scope.role)
    )


def _token_row(uow: UnitOfWork, token_id: str) -> Row[Any] | None:
    return uow.conn.execute(
        select(*TOKEN_COLUMNS)
        .join(principals, principals.c.id == tokens.c.principal_id)
        .where(tokens.c.id == token_id)
    ).first()
