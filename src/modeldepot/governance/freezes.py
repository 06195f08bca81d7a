"""Change freezes: no promotion request is applied to a model under a frozen prefix.

A freeze covers a namespace prefix (``""`` is every model) from ``starts_at`` until
``ends_at`` (or until lifted). Declaring and lifting one needs ``governance:admin`` on
its prefix; both are audited (``freeze.create``, ``freeze.lift``). Anyone
authenticated may list them: a frozen team should be able to see why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, or_, select, update

from modeldepot.db.tables import freezes
from modeldepot.errors import FreezeNotFound, InvalidInput
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.unit import Units
from modeldepot.schemas.common import Page
from modeldepot.schemas.policies import FreezeRead
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission, covers, normalize_prefix, show_prefix


def active_freezes(conn: Connection, model_name: str, now: datetime) -> list[str]:
    """The reasons of the freezes in force at ``now`` covering model ``model_name``."""
    rows = conn.execute(
        select(freezes)
        .where(freezes.c.lifted_at.is_(None), freezes.c.starts_at <= now)
        .order_by(freezes.c.id)
    ).all()
    return [
        f"{show_prefix(row.prefix)} is frozen: {row.reason} ({_until(row)})"
        for row in rows
        if _in_force(row, now) and covers(row.prefix, model_name)
    ]


class FreezeService:
    """Declare, lift and list change freezes (``registry.freezes``)."""

    def __init__(self, units: Units) -> None:
        self.units = units

    def create(
        self,
        ctx: Context,
        prefix: str,
        reason: str,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> FreezeRead:
        """Freeze ``prefix`` from ``starts_at`` (default now) until ``ends_at`` (default:
        until lifted)."""
        if "\x00" in prefix:
            raise InvalidInput("a namespace prefix cannot contain a NUL character")
        prefix = normalize_prefix(prefix)
        reason = reason.strip()
        if not reason or "\x00" in reason:
            raise InvalidInput("a freeze needs a reason (text without NUL)")
        with self.units.write(ctx) as uow:
            uow.require(Permission.GOVERNANCE_ADMIN, prefix)
            start = _utc(starts_at) if starts_at is not None else uow.now
            end = _utc(ends_at) if ends_at is not None else None
            if end is not None and (end <= start or end <= uow.now):
                raise InvalidInput("a freeze must end after it starts, and in the future")
            result = uow.conn.execute(
                insert(freezes).values(
                    prefix=prefix,
                    reason=reason,
                    starts_at=start,
                    ends_at=end,
                    created_at=uow.now,
                    created_by=ctx.name,
                )
            )
            freeze_id = result.inserted_primary_key[0]
            row = _row(uow.conn, freeze_id)
            uow.record("freeze.create", _target(row), after=_summary(row))
            return _read(row, uow.now)

    def lift(self, ctx: Context, freeze_id: int) -> FreezeRead:
        """End freeze ``freeze_id`` now (FreezeNotFound if absent, lifted or over)."""
        with self.units.write(ctx) as uow:
            row = _row(uow.conn, freeze_id)
            uow.require(Permission.GOVERNANCE_ADMIN, row.prefix)
            if row.lifted_at is not None or (row.ends_at is not None and row.ends_at <= uow.now):
                raise FreezeNotFound(f"freeze {freeze_id} is already over")
            uow.conn.execute(
                update(freezes)
                .where(freezes.c.id == freeze_id)
                .values(lifted_at=uow.now, lifted_by=ctx.name)
            )
            after = _row(uow.conn, freeze_id)
            uow.record("freeze.lift", _target(row), before=_summary(row), after=_summary(after))
            return _read(after, uow.now)

    def list(
        self,
        ctx: Context,
        active_only: bool = True,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[FreezeRead]:
        """Freezes, newest first, a page at a time: with ``active_only``, those not
        over (in force now, or scheduled to start), else every one ever declared."""
        size = check_limit(limit)
        now = self.units.clock()
        query = select(freezes).order_by(freezes.c.id.desc()).limit(size + 1)
        if cursor:
            query = query.where(freezes.c.id < decode_cursor(cursor, int)[0])
        if active_only:
            query = query.where(
                freezes.c.lifted_at.is_(None),
                or_(freezes.c.ends_at.is_(None), freezes.c.ends_at > now),
            )
        with self.units.read(ctx) as reading:
            rows = reading.conn.execute(query).all()
        next_cursor = encode_cursor(rows[size - 1].id) if len(rows) > size else None
        return Page[FreezeRead](
            items=[_read(row, now) for row in rows[:size]], next_cursor=next_cursor
        )


def _in_force(row: Row[Any], now: datetime) -> bool:
    return (
        row.lifted_at is None
        and _utc(row.starts_at) <= now
        and (row.ends_at is None or now < _utc(row.ends_at))
    )


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _until(row: Row[Any]) -> str:
    if row.ends_at is None:
        return f"since {row.starts_at:%Y-%m-%d %H:%M} UTC, until lifted"
    return f"until {row.ends_at:%Y-%m-%d %H:%M} UTC"


def _row(conn: Connection, freeze_id: int) -> Row[Any]:
    row = conn.execute(select(freezes).where(freezes.c.id == freeze_id)).first()
    if row is None:
        raise FreezeNotFound(f"no freeze has id {freeze_id}")
    return row


def _target(row: Row[Any]) -> str:
    return f"freeze/{row.id}"


def _summary(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "prefix": row.prefix,
        "reason": row.reason,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat() if row.ends_at is not None else None,
        "lifted_at": row.lifted_at.isoformat() if row.lifted_at is not None else None,
    }


def _read(row: Row[Any], now: datetime) -> FreezeRead:
    return FreezeRead(
        id=row.id,
        prefix=row.prefix,
        reason=row.reason,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_at=row.created_at,
        created_by=row.created_by,
        lifted_at=row.lifted_at,
        lifted_by=row.lifted_by,
        active=_in_force(row, now),
    )
