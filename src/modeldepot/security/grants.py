"""Grants: a role on a namespace prefix, held by a user, service account or group.

Who may grant what: a registry admin (``admin`` on ``/``) anything; a maintainer, on
the prefixes it maintains, roles below its own, and it may change or remove only grants
below its own role. Nobody gives itself more than it holds: a role is granted only by
someone holding a higher one (admin excepted, which already holds everything), and a
scoped token counts only as far as its scope reaches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Row, delete, insert, or_, select, true, update

from modeldepot.db.tables import grants, group_members
from modeldepot.errors import Conflict, Forbidden, GrantNotFound, Unauthenticated
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.schemas.common import Page
from modeldepot.schemas.identity import GrantRead
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission, Role, normalize_prefix, show_prefix
from modeldepot.security.rows import Subject, check_text, grant_reads, subject_of

if TYPE_CHECKING:
    from modeldepot.registry.unit import UnitOfWork, Units


class GrantMethods:
    """The grants part of ``IdentityService``."""

    units: Units

    if TYPE_CHECKING:

        def _forget(self) -> None: ...

    def grant(self, ctx: Context, subject: str, prefix: str, role: Role) -> GrantRead:
        """Give ``subject`` (a user, service account or group) ``role`` on ``prefix``,
        replacing the role it had there. Forbidden unless the caller may (see above)."""
        prefix = normalize_prefix(check_text(prefix, "a prefix"))
        with self.units.write(ctx) as uow:
            check_may_grant(ctx, prefix, role)
            who = subject_of(uow.conn, subject)
            existing = uow.conn.execute(
                select(grants.c.id, grants.c.role).where(_of(who), grants.c.prefix == prefix)
            ).first()
            if existing is not None:
                check_may_grant(ctx, prefix, Role(existing.role))
                if role < Role.ADMIN:
                    keep_an_admin(uow, int(existing.id))
            grant_id = insert_grant(uow, who, prefix, role, existing)
            (result,) = grant_reads(uow.conn, grants.c.id == grant_id)
        self._forget()
        return result

    def list_grants(
        self,
        ctx: Context,
        *,
        subject: str | None = None,
        prefix: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[GrantRead]:
        """The grants the caller may see: all of them to an admin; else its own (and
        its groups'), and those on the prefixes it maintains."""
        size = check_limit(limit)
        with self.units.read(ctx) as reading:
            where = [_visible(ctx)]
            if subject is not None:
                where.append(_of(subject_of(reading.conn, subject)))
            if prefix is not None:
                where.append(grants.c.prefix == normalize_prefix(check_text(prefix, "a prefix")))
            if cursor is not None:
                (after,) = decode_cursor(cursor, int)
                where.append(grants.c.id > after)
            items = grant_reads(reading.conn, *where, limit=size + 1)
        more = len(items) > size
        items = items[:size]
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)

    def revoke_grant(self, ctx: Context, grant_id: int) -> None:
        """Remove a grant. One the caller may not see answers GrantNotFound."""
        with self.units.write(ctx) as uow:
            found = grant_reads(uow.conn, grants.c.id == grant_id, _visible(ctx))
            if not found:
                raise GrantNotFound(f"no grant {grant_id} that you may see", grant=grant_id)
            (grant,) = found
            prefix = normalize_prefix(grant.prefix)
            check_may_grant(ctx, prefix, Role[grant.role.upper()])
            keep_an_admin(uow, grant_id)
            uow.conn.execute(delete(grants).where(grants.c.id == grant_id))
            uow.record(
                "grant.delete",
                f"grant/{grant.subject}/{grant.prefix}",
                before={"subject": grant.subject, "prefix": grant.prefix, "role": grant.role},
            )
        self._forget()


def check_may_grant(ctx: Context, prefix: str, role: Role) -> None:
    """Forbidden unless the caller may grant (or remove) ``role`` on ``prefix``."""
    if ctx.principal.kind == "anonymous":
        raise Unauthenticated("granting roles needs a token")
    held = ctx.access.role_on(prefix)
    if held is not None and (held == Role.ADMIN or (held >= Role.MAINTAINER and role < held)):
        return
    need = "admin" if role >= Role.MAINTAINER else f"a role above {role.label}"
    raise Forbidden(
        f"granting or removing {role.label} on {show_prefix(prefix)} needs {need} there",
        permission=Permission.GRANT_MANAGE.value,
    )


def keep_an_admin(uow: UnitOfWork, grant_id: int) -> None:
    """Conflict if grant ``grant_id`` is the last ``admin`` on ``/``: removing it would
    leave a registry nobody can administer."""
    root_admins = select(grants.c.id).where(grants.c.prefix == "", grants.c.role == int(Role.ADMIN))
    ids = set(uow.conn.execute(root_admins).scalars())
    if ids == {grant_id}:
        raise Conflict("this is the last admin grant on /: grant admin on / to another first")


def insert_grant(
    uow: UnitOfWork, who: Subject, prefix: str, role: Role, existing: Row[Any] | None
) -> int:
    """Create or replace (``existing``: its id and role) ``who``'s grant on ``prefix``;
    return its id."""
    before = {"role": Role(existing.role).label} if existing is not None else None
    if existing is not None:
        grant_id = int(existing.id)
        uow.conn.execute(update(grants).where(grants.c.id == grant_id).values(role=int(role)))
    else:
        grant_id = uow.conn.execute(
            insert(grants)
            .values(
                principal_id=who.principal_id,
                group_id=who.group_id,
                prefix=prefix,
                role=int(role),
                created_at=uow.now,
                created_by=uow.ctx.name,
            )
            .returning(grants.c.id)
        ).scalar_one()
    uow.record(
        "grant.create",
        f"grant/{who.name}/{show_prefix(prefix)}",
        before=before,
        after={"subject": who.name, "prefix": show_prefix(prefix), "role": role.label},
    )
    return int(grant_id)


def _of(who: Subject) -> ColumnElement[bool]:
    if who.group_id is not None:
        return grants.c.group_id == who.group_id
    return grants.c.principal_id == who.principal_id


def _visible(ctx: Context) -> ColumnElement[bool]:
    """SQL: the grants ``ctx`` may see."""
    if ctx.access.is_admin:
        return true()
    clauses = [ctx.access.holding(grants.c.prefix, Role.MAINTAINER)]
    if ctx.principal.id is not None:
        mine = select(group_members.c.group_id).where(
            group_members.c.principal_id == ctx.principal.id
        )
        clauses += [grants.c.principal_id == ctx.principal.id, grants.c.group_id.in_(mine)]
    return or_(*clauses)
