"""Groups: named sets of users and service accounts that grants can be given to.

Only registry admins create, delete and change groups: joining a group is taking its
roles. Group names share one namespace with users and service accounts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, delete, insert, select

from modeldepot.db.tables import grants, group_members, groups, principals
from modeldepot.errors import Conflict, NotFound
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.schemas.common import Page
from modeldepot.schemas.identity import GroupRead
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission
from modeldepot.security.rows import (
    check_principal_name,
    check_text,
    grant_reads,
    group_row,
    principal_row,
    refuse_taken,
)

if TYPE_CHECKING:
    from modeldepot.registry.unit import Units


class GroupMethods:
    """The groups part of ``IdentityService``."""

    units: Units

    if TYPE_CHECKING:

        def _forget(self) -> None: ...

    def create_group(self, ctx: Context, name: str, *, description: str = "") -> GroupRead:
        check_principal_name(name)
        check_text(description, "a description")
        with self.units.write(ctx) as uow:
            uow.require(Permission.REGISTRY_ADMIN)
            refuse_taken(uow.conn, name)
            uow.conn.execute(
                insert(groups).values(
                    name=name, description=description, created_at=uow.now, created_by=ctx.name
                )
            )
            uow.record("group.create", f"group/{name}", after={"name": name})
            return _group_read(uow.conn, group_row(uow.conn, name))

    def list_groups(
        self, ctx: Context, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[GroupRead]:
        size = check_limit(limit)
        with self.units.read(ctx) as reading:
            reading.require(Permission.REGISTRY_ADMIN)
            query = select(groups).order_by(groups.c.name).limit(size + 1)
            if cursor is not None:
                (after,) = decode_cursor(cursor, str)
                query = query.where(groups.c.name > after)
            rows = reading.conn.execute(query).all()
            items = [_group_read(reading.conn, row) for row in rows[:size]]
        more = len(rows) > size
        return Page(items=items, next_cursor=encode_cursor(items[-1].name) if more else None)

    def get_group(self, ctx: Context, name: str) -> GroupRead:
        with self.units.read(ctx) as reading:
            reading.require(Permission.REGISTRY_ADMIN)
            return _group_read(reading.conn, group_row(reading.conn, name))

    def delete_group(self, ctx: Context, name: str) -> None:
        """Delete a group; its members lose the roles granted to it."""
        with self.units.write(ctx) as uow:
            uow.require(Permission.REGISTRY_ADMIN)
            before = _group_read(uow.conn, group_row(uow.conn, name))
            uow.conn.execute(delete(groups).where(groups.c.name == name))
            uow.record(
                "group.delete",
                f"group/{name}",
                before={
                    "members": before.members,
                    "grants": [f"{g.role} on {g.prefix}" for g in before.grants],
                },
            )
        self._forget()

    def add_member(self, ctx: Context, group: str, member: str) -> GroupRead:
        """Add a user or service account to a group (Conflict if it is already in)."""
        with self.units.write(ctx) as uow:
            uow.require(Permission.REGISTRY_ADMIN)
            row = group_row(uow.conn, group)
            principal = principal_row(uow.conn, member)
            if _is_member(uow.conn, row.id, principal.id):
                raise Conflict(f"{member!r} is already in the group {group!r}")
            uow.conn.execute(
                insert(group_members).values(group_id=row.id, principal_id=principal.id)
            )
            uow.record("group.member.add", f"group/{group}", after={"member": member})
            result = _group_read(uow.conn, row)
        self._forget()
        return result

    def remove_member(self, ctx: Context, group: str, member: str) -> GroupRead:
        with self.units.write(ctx) as uow:
            uow.require(Permission.REGISTRY_ADMIN)
            row = group_row(uow.conn, group)
            principal = principal_row(uow.conn, member)
            if not _is_member(uow.conn, row.id, principal.id):
                raise NotFound(f"{member!r} is not in the group {group!r}")
            uow.conn.execute(
                delete(group_members).where(
                    group_members.c.group_id == row.id,
                    group_members.c.principal_id == principal.id,
                )
            )
            uow.record("group.member.remove", f"group/{group}", before={"member": member})
            result = _group_read(uow.conn, row)
        self._forget()
        return result


def _is_member(conn: Connection, group_id: int, principal_id: int) -> bool:
    return (
        conn.execute(
            select(group_members.c.group_id).where(
                group_members.c.group_id == group_id, group_members.c.principal_id == principal_id
            )
        ).first()
        is not None
    )


def _group_read(conn: Connection, row: Row[Any]) -> GroupRead:
    members = conn.execute(
        select(principals.c.name)
        .join(group_members, group_members.c.principal_id == principals.c.id)
        .where(group_members.c.group_id == row.id)
        .order_by(principals.c.name)
    ).scalars()
    return GroupRead(
        name=row.name,
        description=row.description,
        members=list(members),
        grants=grant_reads(conn, grants.c.group_id == row.id),
        created_at=row.created_at,
        created_by=row.created_by,
    )
