"""IdentityService: principals, grants and API tokens, and authenticating a token.

Every change goes through a unit of work, so it is permission-checked and audited
like any other; the audit log never holds a secret (a token's id and name only).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, func, insert, or_, select, update

from modeldepot.db.engine import Database
from modeldepot.db.tables import grants, group_members, principals, tokens
from modeldepot.errors import (
    InvalidInput,
    PrincipalExists,
    PrincipalNotFound,
    TokenExpired,
    TokenRevoked,
    Unauthenticated,
)
from modeldepot.registry.unit import UnitOfWork, Units
from modeldepot.security import tokens as token_format
from modeldepot.security.access import Access, Grant, Scope
from modeldepot.security.context import Context, Principal
from modeldepot.security.roles import Permission, Role, normalize_prefix, show_prefix

BOOTSTRAP_USER = "admin"
BOOTSTRAP_FILE = "admin.token"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,127}$")
KINDS = ("user", "service")


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    access: Access
    token_id: str
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    text: str  # the whole token, shown once


def check_principal_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"name {name!r} is not valid: 1-128 lower-case letters, digits, '.', '_', '@', '-', "
            "starting with a letter or digit"
        )
    return name


class IdentityService:
    def __init__(self, db: Database, units: Units) -> None:
        self.db = db
        self.units = units

    # -- authentication ------------------------------------------------------------

    def authenticate(self, text: str) -> Authenticated:
        """The principal a token belongs to and what it may do.

        Raises Unauthenticated for a malformed or unknown token (or a wrong secret),
        TokenExpired, TokenRevoked; never says which part of a token was wrong.
        """
        parsed = token_format.parse(text)
        if parsed is None:
            raise Unauthenticated("the credential is not a modeldepot token")
        token_id, secret = parsed
        with self.db.read() as conn:
            row = conn.execute(
                select(
                    tokens.c.secret_hash,
                    tokens.c.scope_prefix,
                    tokens.c.scope_role,
                    tokens.c.expires_at,
                    tokens.c.revoked_at,
                    tokens.c.last_used_at,
                    principals.c.id,
                    principals.c.name,
                    principals.c.kind,
                    principals.c.disabled_at,
                )
                .join(principals, principals.c.id == tokens.c.principal_id)
                .where(tokens.c.id == token_id)
            ).first()
            if row is None or not token_format.secret_matches(secret, row.secret_hash):
                raise Unauthenticated("the token is not known to this registry")
            if row.revoked_at is not None:
                raise TokenRevoked("the token was revoked")
            if row.expires_at is not None and row.expires_at <= _now():
                raise TokenExpired("the token has expired")
            if row.disabled_at is not None:
                raise Unauthenticated("the token's account is disabled")
            held = load_grants(conn, row.id)
        scope = (
            Scope(row.scope_prefix, Role(row.scope_role))
            if row.scope_role is not None and row.scope_prefix is not None
            else None
        )
        principal = Principal(row.id, row.name, row.kind)
        return Authenticated(
            principal, Access(held, scope), token_id, row.expires_at, row.last_used_at
        )

    def touch_token(self, token_id: str, at: datetime, client: str | None) -> None:
        """Record a token's last use (callers rate-limit this: it is a write)."""
        with self.db.write() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id)
                .values(last_used_at=at, last_used_from=(client or "")[:64] or None)
            )

    # -- first start ---------------------------------------------------------------

    def bootstrap(self, data_dir: Path) -> Path | None:
        """On a registry with no principal, create the ``admin`` user (admin on ``/``)
        and write a token of its to ``data_dir/admin.token``, readable by its owner
        only. Return the file's path, or None when the registry already had principals.
        """
        ctx = Context.system("bootstrap")
        path = data_dir / BOOTSTRAP_FILE
        with self.units.write(ctx) as uow:
            if uow.conn.execute(select(func.count()).select_from(principals)).scalar_one():
                return None
            principal_id = _insert_principal(uow, BOOTSTRAP_USER, "user", "Registry admin")
            _insert_grant(uow, BOOTSTRAP_USER, principal_id, None, "", Role.ADMIN)
            issued = _insert_token(uow, principal_id, BOOTSTRAP_USER, "bootstrap", None, None)
            data_dir.mkdir(parents=True, exist_ok=True)
            # Written inside the transaction: if the file cannot be written, no admin
            # exists whose token nobody holds.
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(issued.text + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        return path

    # -- principals, grants, tokens (the minimum the server itself needs) -----------

    def create_principal(
        self, ctx: Context, name: str, *, kind: str = "user", display_name: str = ""
    ) -> int:
        check_principal_name(name)
        if kind not in KINDS:
            raise InvalidInput(f"kind {kind!r} is not one of: {', '.join(KINDS)}")
        with self.units.write(ctx) as uow:
            uow.require(Permission.REGISTRY_ADMIN)
            return _insert_principal(uow, name, kind, display_name)

    def grant(self, ctx: Context, name: str, prefix: str, role: Role) -> None:
        """Give principal ``name`` the role ``role`` on ``prefix`` (replacing its role
        there). A maintainer may grant roles below its own; only an admin, admin."""
        prefix = normalize_prefix(prefix)
        with self.units.write(ctx) as uow:
            check_may_grant(uow, prefix, role)
            principal_id = principal_id_of(uow.conn, name)
            _insert_grant(uow, name, principal_id, None, prefix, role)

    def create_token(
        self,
        ctx: Context,
        name: str,
        *,
        scope_prefix: str | None = None,
        scope_role: Role | None = None,
        expires_at: datetime | None = None,
        owner: str | None = None,
    ) -> IssuedToken:
        """A new token of the caller's (or, for an admin, of ``owner``'s: a service
        account's, say). A token never does more than its owner: its scope only narrows."""
        if owner is None and ctx.principal.id is None:
            raise InvalidInput(f"{ctx.principal.kind} callers cannot own tokens")
        scope = None
        if scope_prefix is not None or scope_role is not None:
            prefix = normalize_prefix(scope_prefix or "")
            role = scope_role or Role.ADMIN
            scope = Scope(prefix, role)
        with self.units.write(ctx) as uow:
            if owner is not None and owner != ctx.name:
                uow.require(Permission.REGISTRY_ADMIN)
                return _insert_token(
                    uow, principal_id_of(uow.conn, owner), owner, name, scope, expires_at
                )
            assert ctx.principal.id is not None
            return _insert_token(uow, ctx.principal.id, ctx.name, name, scope, expires_at)


def check_may_grant(uow: UnitOfWork, prefix: str, role: Role) -> None:
    """Granting needs ``grant:manage`` on the prefix and a role above the one granted;
    an admin may grant admin."""
    uow.require(Permission.GRANT_MANAGE, prefix)
    held = uow.ctx.access.role_on(prefix)
    if held is None or (held < role or (held == role and held != Role.ADMIN)):
        from modeldepot.errors import Forbidden

        raise Forbidden(
            f"granting {role.label} on {show_prefix(prefix)} needs a higher role there",
            permission=Permission.GRANT_MANAGE.value,
        )


def principal_id_of(conn: Connection, name: str) -> int:
    row = conn.execute(select(principals.c.id).where(principals.c.name == name)).first()
    if row is None:
        raise PrincipalNotFound(f"no user or service account is called {name!r}", name=name)
    return int(row.id)


def load_grants(conn: Connection, principal_id: int) -> tuple[Grant, ...]:
    """The grants a principal holds, directly or through its groups."""
    in_groups = select(group_members.c.group_id).where(group_members.c.principal_id == principal_id)
    rows = conn.execute(
        select(grants.c.prefix, grants.c.role).where(
            or_(grants.c.principal_id == principal_id, grants.c.group_id.in_(in_groups))
        )
    ).all()
    return tuple(Grant(r.prefix, Role(r.role)) for r in rows)


def _insert_principal(uow: UnitOfWork, name: str, kind: str, display_name: str) -> int:
    if uow.conn.execute(select(principals.c.id).where(principals.c.name == name)).first():
        raise PrincipalExists(f"a user or service account called {name!r} exists", name=name)
    principal_id = uow.conn.execute(
        insert(principals)
        .values(
            name=name,
            kind=kind,
            display_name=display_name,
            created_at=uow.now,
            created_by=uow.ctx.name,
        )
        .returning(principals.c.id)
    ).scalar_one()
    uow.record("user.create", f"principal/{name}", after={"name": name, "kind": kind})
    return int(principal_id)


def _insert_grant(
    uow: UnitOfWork,
    subject: str,
    principal_id: int | None,
    group_id: int | None,
    prefix: str,
    role: Role,
) -> None:
    existing = uow.conn.execute(
        select(grants.c.id, grants.c.role).where(
            grants.c.principal_id == principal_id
            if principal_id is not None
            else grants.c.principal_id.is_(None),
            grants.c.group_id == group_id if group_id is not None else grants.c.group_id.is_(None),
            grants.c.prefix == prefix,
        )
    ).first()
    before = {"role": Role(existing.role).label} if existing else None
    if existing:
        uow.conn.execute(update(grants).where(grants.c.id == existing.id).values(role=int(role)))
    else:
        uow.conn.execute(
            insert(grants).values(
                principal_id=principal_id,
                group_id=group_id,
                prefix=prefix,
                role=int(role),
                created_at=uow.now,
                created_by=uow.ctx.name,
            )
        )
    uow.record(
        "grant.create",
        f"grant/{subject}/{show_prefix(prefix)}",
        before=before,
        after={"subject": subject, "prefix": show_prefix(prefix), "role": role.label},
    )


def _insert_token(
    uow: UnitOfWork,
    principal_id: int,
    owner: str,
    name: str,
    scope: Scope | None,
    expires_at: datetime | None,
) -> IssuedToken:
    if not name or len(name) > 128:
        raise InvalidInput("a token name is 1 to 128 characters")
    if expires_at is not None and expires_at <= uow.now:
        raise InvalidInput("a token's expiry must be in the future")
    new = token_format.generate()
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
    uow.record(
        "token.create",
        f"token/{new.id}",
        after={
            "id": new.id,
            "owner": owner,
            "name": name,
            "scope": (
                {"prefix": show_prefix(scope.prefix), "role": scope.role.label} if scope else None
            ),
            "expires_at": expires_at,
        },
    )
    return IssuedToken(new.id, new.text)


def _now() -> datetime:
    from modeldepot.db.types import utcnow

    return utcnow()
