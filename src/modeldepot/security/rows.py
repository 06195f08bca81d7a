"""The identity tables read back: lookups by name and rows turned into wire schemas.

Shared by the parts of ``IdentityService`` (principals, groups, grants, tokens). Users,
service accounts and groups share one namespace of names, so a grant's subject is
never ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, or_, select

from modeldepot.db.tables import grants, group_members, groups, principals, tokens
from modeldepot.errors import InvalidInput, PrincipalExists, PrincipalNotFound
from modeldepot.schemas.identity import GrantRead, PrincipalRead, TokenRead, TokenScope
from modeldepot.security.access import Grant
from modeldepot.security.roles import Role, show_prefix

_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,127}$")


def valid_name(name: str) -> bool:
    """Whether ``name`` could be a principal's or group's (lookups of any other answer
    "not found" before reaching the database, which may refuse some characters)."""
    return _NAME.fullmatch(name) is not None


def check_text(value: str, what: str) -> str:
    """Free text as stored: PostgreSQL refuses NUL characters in text."""
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    return value


def check_principal_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"name {name!r} is not valid: 1-128 lower-case letters, digits, '.', '_', '@', '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a grant is for: a principal (``principal_id``) or a group (``group_id``)."""

    name: str
    kind: str  # user | service | group
    principal_id: int | None
    group_id: int | None


def principal_row(conn: Connection, name: str) -> Row[Any]:
    row = None
    if valid_name(name):
        row = conn.execute(select(principals).where(principals.c.name == name)).first()
    if row is None:
        raise PrincipalNotFound(f"no user or service account is called {name!r}", name=name)
    return row


def principal_id_of(conn: Connection, name: str) -> int:
    return int(principal_row(conn, name).id)


def group_row(conn: Connection, name: str) -> Row[Any]:
    row = None
    if valid_name(name):
        row = conn.execute(select(groups).where(groups.c.name == name)).first()
    if row is None:
        raise PrincipalNotFound(f"no group is called {name!r}", name=name)
    return row


def subject_of(conn: Connection, name: str) -> Subject:
    if not valid_name(name):
        raise PrincipalNotFound(f"no user, service account or group is called {name!r}", name=name)
    row = conn.execute(
        select(principals.c.id, principals.c.kind).where(principals.c.name == name)
    ).first()
    if row is not None:
        return Subject(name, row.kind, int(row.id), None)
    group = conn.execute(select(groups.c.id).where(groups.c.name == name)).first()
    if group is not None:
        return Subject(name, "group", None, int(group.id))
    raise PrincipalNotFound(f"no user, service account or group is called {name!r}", name=name)


def refuse_taken(conn: Connection, name: str) -> None:
    """PrincipalExists if a principal or a group is called ``name``."""
    taken = conn.execute(select(principals.c.id).where(principals.c.name == name)).first()
    taken = taken or conn.execute(select(groups.c.id).where(groups.c.name == name)).first()
    if taken:
        raise PrincipalExists(f"a user, service account or group called {name!r} exists", name=name)


def load_grants(conn: Connection, principal_id: int) -> tuple[Grant, ...]:
    """The grants a principal holds, directly or through its groups."""
    in_groups = select(group_members.c.group_id).where(group_members.c.principal_id == principal_id)
    rows = conn.execute(
        select(grants.c.prefix, grants.c.role).where(
            or_(grants.c.principal_id == principal_id, grants.c.group_id.in_(in_groups))
        )
    ).all()
    return tuple(Grant(r.prefix, Role(r.role)) for r in rows)


def group_names(conn: Connection, principal_id: int) -> list[str]:
    return list(
        conn.execute(
            select(groups.c.name)
            .join(group_members, group_members.c.group_id == groups.c.id)
            .where(group_members.c.principal_id == principal_id)
            .order_by(groups.c.name)
        ).scalars()
    )


def grant_reads(
    conn: Connection, *where: ColumnElement[bool], limit: int | None = None
) -> list[GrantRead]:
    """Grants matching ``where``, ordered by id, with their subjects named."""
    query = (
        select(
            grants,
            principals.c.name.label("principal_name"),
            principals.c.kind.label("principal_kind"),
            groups.c.name.label("group_name"),
        )
        .outerjoin(principals, principals.c.id == grants.c.principal_id)
        .outerjoin(groups, groups.c.id == grants.c.group_id)
        .where(*where)
        .order_by(grants.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [grant_read(row) for row in conn.execute(query)]


def grant_read(row: Row[Any]) -> GrantRead:
    is_group = row.group_id is not None
    return GrantRead(
        id=row.id,
        subject=row.group_name if is_group else row.principal_name,
        subject_kind="group" if is_group else row.principal_kind,
        prefix=show_prefix(row.prefix),
        role=Role(row.role).label,  # type: ignore[arg-type]
        created_at=row.created_at,
        created_by=row.created_by,
    )


def principal_read(conn: Connection, row: Row[Any]) -> PrincipalRead:
    return PrincipalRead(
        name=row.name,
        kind=row.kind,
        display_name=row.display_name,
        has_password=row.password_hash is not None,
        disabled=row.disabled_at is not None,
        disabled_at=row.disabled_at,
        groups=group_names(conn, row.id),
        grants=grant_reads(conn, grants.c.principal_id == row.id),
        created_at=row.created_at,
        created_by=row.created_by,
    )


TOKEN_COLUMNS = (tokens, principals.c.name.label("owner"))


def token_read(row: Row[Any]) -> TokenRead:
    """A row of ``select(*TOKEN_COLUMNS).join(principals)`` on the wire (no secret)."""
    scope = None
    if row.scope_role is not None and row.scope_prefix is not None:
        scope = TokenScope(prefix=show_prefix(row.scope_prefix), role=Role(row.scope_role).label)  # type: ignore[arg-type]
    return TokenRead(
        id=row.id,
        name=row.name,
        owner=row.owner,
        scope=scope,
        expires_at=row.expires_at,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        last_used_from=row.last_used_from,
        revoked=row.revoked_at is not None,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )
