"""Users and service accounts: create, list, show, update, disable, delete.

Registry admins manage every account; anyone may read and edit their own (display
name, password), except through a scoped token, which stays within its scope and so
cannot set the password that would mint an unscoped one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from modeldepot.db.tables import principals
from modeldepot.errors import Forbidden, InvalidInput
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.schemas.common import Page
from modeldepot.schemas.identity import PrincipalRead
from modeldepot.security.context import Context
from modeldepot.security.passwords import hash_password
from modeldepot.security.roles import Permission
from modeldepot.security.rows import (
    check_principal_name,
    check_text,
    principal_read,
    principal_row,
    refuse_taken,
)

if TYPE_CHECKING:
    from modeldepot.registry.unit import UnitOfWork, Units

KINDS = ("user", "service")


class PrincipalMethods:
    """The users-and-service-accounts part of ``IdentityService``."""

    units: Units

    if TYPE_CHECKING:

        def _forget(self) -> None: ...

    def create_principal(
        self,
        ctx: Context,
        name: str,
        *,
        kind: str = "user",
        display_name: str = "",
        password: str | None = None,
    ) -> PrincipalRead:
        """A new user (``kind="user"``, optionally with a password) or service account.
        PrincipalExists if a principal or group has the name."""
        check_principal_name(name)
        if kind not in KINDS:
            raise InvalidInput(f"kind {kind!r} is not one of: {', '.join(KINDS)}")
        if password is not None and kind != "user":
            raise InvalidInput("service accounts authenticate with tokens, not passwords")
        check_text(display_name, "a display name")
        hashed = hash_password(password) if password is not None else None
        with self.units.write(ctx) as uow:
            uow.require(Permission.REGISTRY_ADMIN)
            insert_principal(uow, name, kind, display_name, hashed)
            return principal_read(uow.conn, principal_row(uow.conn, name))

    def list_principals(
        self,
        ctx: Context,
        *,
        kind: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[PrincipalRead]:
        """Every user and service account (or those of ``kind``), by name."""
        size = check_limit(limit)
        with self.units.read(ctx) as reading:
            reading.require(Permission.REGISTRY_ADMIN)
            query = select(principals).order_by(principals.c.name).limit(size + 1)
            if kind is not None:
                query = query.where(principals.c.kind == kind)
            if cursor is not None:
                (after,) = decode_cursor(cursor, str)
                query = query.where(principals.c.name > after)
            rows = reading.conn.execute(query).all()
            items = [principal_read(reading.conn, row) for row in rows[:size]]
        more = len(rows) > size
        return Page(items=items, next_cursor=encode_cursor(items[-1].name) if more else None)

    def get_principal(self, ctx: Context, name: str) -> PrincipalRead:
        """An account, to an admin or to itself."""
        with self.units.read(ctx) as reading:
            row = principal_row(reading.conn, name) if _is_self(ctx, name) else None
            if row is None:
                reading.require(Permission.REGISTRY_ADMIN)
                row = principal_row(reading.conn, name)
            return principal_read(reading.conn, row)

    def update_principal(
        self,
        ctx: Context,
        name: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        clear_password: bool = False,
        disabled: bool | None = None,
    ) -> PrincipalRead:
        """Change what is given. Admins may change anything of anyone (but not disable
        themselves); an account may change its own display name and password."""
        check_text(display_name or "", "a display name")
        hashed = hash_password(password) if password is not None else None
        with self.units.write(ctx) as uow:
            mine = _is_self(ctx, name)
            if not mine or clear_password or disabled is not None:
                uow.require(Permission.REGISTRY_ADMIN)
            if mine and password is not None and ctx.access.scope is not None:
                raise Forbidden(
                    "a scoped token cannot set its account's password",
                    permission=Permission.SELF.value,
                )
            row = principal_row(uow.conn, name)
            if mine and disabled:
                raise InvalidInput("you cannot disable your own account")
            if hashed is not None and row.kind != "user":
                raise InvalidInput("service accounts authenticate with tokens, not passwords")
            values: dict[str, Any] = {}
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            if display_name is not None and display_name != row.display_name:
                values["display_name"] = display_name
                before["display_name"], after["display_name"] = row.display_name, display_name
            if hashed is not None or (clear_password and row.password_hash is not None):
                values["password_hash"] = hashed
                after["password"] = "set" if hashed is not None else "cleared"
            if disabled is not None and disabled != (row.disabled_at is not None):
                values["disabled_at"] = uow.now if disabled else None
                before["disabled"], after["disabled"] = not disabled, disabled
            if values:
                uow.conn.execute(update(principals).where(principals.c.id == row.id).values(values))
                uow.record("user.update", f"principal/{name}", before=before, after=after)
            result = principal_read(uow.conn, principal_row(uow.conn, name))
        if "disabled_at" in values:
            self._forget()
        return result

    def delete_principal(self, ctx: Context, name: str) -> None:
        """Delete an account with its tokens, grants and memberships (not yourself)."""
        with self.units.write(ctx) as uow:
            uow.require(Permission.REGISTRY_ADMIN)
            if _is_self(ctx, name):
                raise InvalidInput("you cannot delete your own account")
            row = principal_row(uow.conn, name)
            before = principal_read(uow.conn, row)
            uow.conn.execute(delete(principals).where(principals.c.id == row.id))
            uow.record(
                "user.delete",
                f"principal/{name}",
                before={
                    "name": name,
                    "kind": row.kind,
                    "groups": before.groups,
                    "grants": [f"{g.role} on {g.prefix}" for g in before.grants],
                },
            )
        self._forget()


def insert_principal(
    uow: UnitOfWork, name: str, kind: str, display_name: str, password_hash: str | None = None
) -> int:
    refuse_taken(uow.conn, name)
    principal_id = uow.conn.execute(
        insert(principals)
        .values(
            name=name,
            kind=kind,
            display_name=display_name,
            password_hash=password_hash,
            created_at=uow.now,
            created_by=uow.ctx.name,
        )
        .returning(principals.c.id)
    ).scalar_one()
    uow.record(
        "user.create",
        f"principal/{name}",
        after={"name": name, "kind": kind, "password": password_hash is not None},
    )
    return int(principal_id)


def _is_self(ctx: Context, name: str) -> bool:
    return ctx.principal.id is not None and ctx.principal.name == name
