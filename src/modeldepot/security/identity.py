"""IdentityService: who may authenticate, and how; principals, groups, grants, tokens.

Authentication (a token, or a password exchanged for one) and the first start live
here; the changes to accounts live in their parts (``principals.py``, ``groups.py``,
``grants.py``, ``tokenstore.py``), mixed into the one service. Every change goes
through a unit of work, so it is permission-checked and audited like any other; the
audit log never holds a secret (a token's id and name only). Changes that narrow what
someone may do (revocations, grants, memberships, disabled accounts) tell the
listeners in ``on_change`` once committed, so a cache of verified tokens forgets them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from modeldepot.db.engine import Database
from modeldepot.db.tables import principals, tokens
from modeldepot.db.types import utcnow
from modeldepot.errors import (
    InvalidInput,
    PrincipalExists,
    TokenExpired,
    TokenRevoked,
    Unauthenticated,
)
from modeldepot.registry.unit import Units
from modeldepot.schemas.identity import TokenCreated, WhoAmI
from modeldepot.security import tokens as token_format
from modeldepot.security.access import Access, Scope
from modeldepot.security.context import Context, Principal
from modeldepot.security.grants import GrantMethods, insert_grant
from modeldepot.security.groups import GroupMethods
from modeldepot.security.passwords import verify_password
from modeldepot.security.principals import KINDS, PrincipalMethods, insert_principal
from modeldepot.security.roles import Role, show_prefix
from modeldepot.security.rows import (
    TOKEN_COLUMNS,
    Subject,
    check_principal_name,
    group_names,
    load_grants,
    principal_id_of,
    token_read,
    valid_name,
)
from modeldepot.security.tokenstore import TokenMethods, as_utc, insert_token

BOOTSTRAP_USER = "admin"
BOOTSTRAP_FILE = "admin.token"
LOGIN_FAILED = "wrong user name or password"

__all__ = [
    "BOOTSTRAP_FILE",
    "KINDS",
    "Authenticated",
    "IdentityService",
    "check_principal_name",
    "load_grants",
    "principal_id_of",
]


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    access: Access
    token_id: str
    expires_at: datetime | None
    last_used_at: datetime | None


class IdentityService(PrincipalMethods, GroupMethods, GrantMethods, TokenMethods):
    def __init__(self, db: Database, units: Units) -> None:
        self.db = db
        self.units = units
        # Called after the commit of any change that may narrow someone's access.
        self.on_change: list[Callable[[], None]] = []

    def _forget(self) -> None:
        for listener in self.on_change:
            listener()

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
            if row.expires_at is not None and row.expires_at <= utcnow():
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

    def bootstrap(self, data_dir: Path, token: str | None = None) -> Path | None:
        """On a registry with no principal, create the ``admin`` user (admin on ``/``)
        and write a token of its to ``data_dir/admin.token``, readable by its owner
        only: ``token`` if given (``MODELDEPOT_ADMIN_TOKEN``, so automation knows it in
        advance), else a new one. Return the file's path, or None when the registry
        already had principals (or another replica, starting at the same time, made its
        admin first).
        """
        given = None
        if token is not None:
            given = token_format.adopt(token)
            if given is None:
                raise InvalidInput(
                    "MODELDEPOT_ADMIN_TOKEN is not a modeldepot token (make one with "
                    "`modeldepot token generate`)"
                )
        ctx = Context.system("bootstrap")
        path = data_dir / BOOTSTRAP_FILE
        # Written before the commit, so that a file that cannot be written leaves no
        # admin whose token nobody holds; moved into place after it, so that a replica
        # that lost the race never replaces the winner's token.
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            with self.units.write(ctx) as uow:
                if uow.conn.execute(select(func.count()).select_from(principals)).scalar_one():
                    return None
                principal_id = insert_principal(uow, BOOTSTRAP_USER, "user", "Registry admin")
                who = Subject(BOOTSTRAP_USER, "user", principal_id, None)
                insert_grant(uow, who, "", Role.ADMIN, None)
                issued = insert_token(
                    uow, principal_id, BOOTSTRAP_USER, "bootstrap", None, None, given
                )
                data_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(issued.token + "\n")
                os.chmod(tmp, 0o600)
        except (IntegrityError, PrincipalExists):
            tmp.unlink(missing_ok=True)
            return None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return path

    # -- passwords -------------------------------------------------------------------

    def login(
        self,
        ctx: Context,
        username: str,
        password: str,
        *,
        token_name: str = "login",
        expires_at: datetime | None = None,
    ) -> TokenCreated:
        """A new token of the user ``username``, for its password.

        Unauthenticated, saying only "wrong user name or password", for an unknown or
        disabled user, a service account, an account without a password or a wrong
        one; the password is checked in the same time in every case.
        """
        expires_at = as_utc(expires_at)
        with self.db.read() as conn:
            row = None
            if valid_name(username):
                query = select(principals).where(principals.c.name == username)
                row = conn.execute(query).first()
            usable = row is not None and row.kind == "user" and row.disabled_at is None
            stored = row.password_hash if row is not None and usable else None
            if not verify_password(stored, password) or row is None:
                raise Unauthenticated(LOGIN_FAILED)
            held = load_grants(conn, row.id)
        user = Context(
            Principal(row.id, row.name, row.kind),
            Access(held),
            request_id=ctx.request_id,
            client=ctx.client,
        )
        with self.units.write(user) as uow:
            return insert_token(uow, row.id, row.name, token_name, None, expires_at)

    # -- who am I --------------------------------------------------------------------

    def whoami(self, ctx: Context) -> WhoAmI:
        """The caller: its name and kind, the roles it holds, its groups and the token
        it used (never the secret)."""
        access = ctx.access
        grants = sorted(access.describe())
        if access.scope is not None:
            scope = f"{access.scope.role.label} on {show_prefix(access.scope.prefix)}"
            grants = [f"{line} (this token: at most {scope})" for line in grants]
        display_name, groups, token = "", [], None
        if ctx.principal.id is not None:
            with self.units.read(ctx) as reading:
                display_name = (
                    reading.conn.execute(
                        select(principals.c.display_name).where(principals.c.id == ctx.principal.id)
                    ).scalar_one_or_none()
                    or ""
                )
                groups = group_names(reading.conn, ctx.principal.id)
                if ctx.token_id is not None:
                    row = reading.conn.execute(
                        select(*TOKEN_COLUMNS)
                        .join(principals, principals.c.id == tokens.c.principal_id)
                        .where(tokens.c.id == ctx.token_id)
                    ).first()
                    token = token_read(row) if row is not None else None
        return WhoAmI(
            name=ctx.name,
            kind=ctx.principal.kind,  # type: ignore[arg-type]
            display_name=display_name,
            grants=grants,
            groups=groups,
            token=token,
        )
