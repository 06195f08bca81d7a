"""AliasService: set, move and delete aliases; every change is kept as an event.

Each move is a unit of work recording ``alias.set`` or ``alias.delete``; the subscriber
``keep_alias_history`` turns it, in the same transaction, into a row of
``alias_events``, which records who moved which alias from which version to which and
when, so an alias can be resolved at any past instant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from modeldepot.db.tables import alias_events, aliases, versions
from modeldepot.errors import AliasConflict, AliasNotFound
from modeldepot.refs import validate_alias
from modeldepot.registry.lookup import model_row, version_row
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.unit import Change, UnitOfWork, Units
from modeldepot.schemas import AliasEventRead, AliasRead, Page
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


class AliasService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def set_alias(
        self,
        ctx: Context,
        name: str,
        alias: str,
        number: int,
        *,
        expected_version: int | None = None,
    ) -> AliasRead:
        """Point ``alias`` at version ``number`` (creating or moving it).

        With ``expected_version`` the move happens only if the alias points there now
        (0 meaning "is unset"), else AliasConflict: a compare-and-set for safe rollouts.
        Setting an alias to the version it already holds records nothing.
        """
        validate_alias(alias)
        with self.units.write(ctx) as uow:
            uow.require(Permission.ALIAS_MOVE, name)
            move_alias(uow, name, alias, number, expected_version=expected_version)
            # A recorded move commits only if the alias is not protected (the guard
            # refuses the whole unit otherwise): only a move that changed nothing asks.
            unprotected = False if uow.changes else None
            return _alias_read(uow.conn, model_row(uow.conn, name), alias, unprotected)

    def delete_alias(self, ctx: Context, name: str, alias: str) -> None:
        validate_alias(alias)
        with self.units.write(ctx) as uow:
            uow.require(Permission.ALIAS_MOVE, name)
            conn = uow.conn
            model = model_row(conn, name)
            current = conn.execute(
                select(aliases.c.version_id, versions.c.number)
                .join(versions, versions.c.id == aliases.c.version_id)
                .where(aliases.c.model_id == model.id, aliases.c.name == alias)
            ).first()
            if current is None:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}", model=name)
            conn.execute(
                delete(aliases).where(aliases.c.model_id == model.id, aliases.c.name == alias)
            )
            uow.record(
                "alias.delete",
                f"{name}@{alias}",
                model=name,
                before={"version": current.number},
                model_id=model.id,
                alias=alias,
                from_version_id=current.version_id,
                to_version_id=None,
            )

    def get_alias(self, ctx: Context, name: str, alias: str) -> AliasRead:
        validate_alias(alias)
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            return _alias_read(reading.conn, model_row(reading.conn, name), alias)

    def list_aliases(
        self, ctx: Context, name: str, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[AliasRead]:
        limit = check_limit(limit)
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            conn = reading.conn
            model = model_row(conn, name)
            query = (
                select(aliases, versions.c.number, versions.c.status)
                .join(versions, versions.c.id == aliases.c.version_id)
                .where(aliases.c.model_id == model.id)
                .order_by(aliases.c.name)
                .limit(limit + 1)
            )
            if cursor:
                (after,) = decode_cursor(cursor, str)
                query = query.where(aliases.c.name > after)
            rows = conn.execute(query).all()
            # Imported here: governance.protection imports the registry package.
            from modeldepot.governance.protection import protected_of

            guarded = protected_of(conn, model.name)
        items = [_row_to_read(model.name, r, r.name in guarded) for r in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1].name) if len(rows) > limit else None
        return Page[AliasRead](items=items, next_cursor=next_cursor)

    def alias_history(
        self,
        ctx: Context,
        name: str,
        alias: str | None = None,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[AliasEventRead]:
        """Alias changes of a model (or of one alias), newest first."""
        limit = check_limit(limit)
        if alias is not None:
            validate_alias(alias)
        # Core aliases: importing sqlalchemy.orm for ``aliased`` costs the server 0.1 s
        # of start-up.
        source = versions.alias("source")
        target = versions.alias("target")
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            conn = reading.conn
            model = model_row(conn, name)
            query = (
                select(
                    alias_events.c.id,
                    alias_events.c.alias,
                    alias_events.c.at,
                    alias_events.c.actor,
                    alias_events.c.request_id,
                    source.c.number.label("from_number"),
                    target.c.number.label("to_number"),
                )
                .outerjoin(source, source.c.id == alias_events.c.from_version_id)
                .outerjoin(target, target.c.id == alias_events.c.to_version_id)
                .where(alias_events.c.model_id == model.id)
                .order_by(alias_events.c.id.desc())
                .limit(limit + 1)
            )
            if alias is not None:
                query = query.where(alias_events.c.alias == alias)
            if cursor:
                (before,) = decode_cursor(cursor, int)
                query = query.where(alias_events.c.id < before)
            rows = conn.execute(query).all()
        items = [
            AliasEventRead(
                model=model.name,
                alias=r.alias,
                from_version=r.from_number,
                to_version=r.to_number,
                at=r.at,
                actor=r.actor,
                request=r.request_id,
            )
            for r in rows[:limit]
        ]
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
        return Page[AliasEventRead](items=items, next_cursor=next_cursor)


def move_alias(
    uow: UnitOfWork, name: str, alias: str, number: int, *, expected_version: int | None = None
) -> None:
    """Point ``alias`` of ``name`` at version ``number`` within ``uow`` (the caller has
    checked the permission). Records ``alias.set`` unless it already points there."""
    conn = uow.conn
    model = model_row(conn, name)
    target = version_row(conn, model, number)
    current = conn.execute(
        select(aliases.c.version_id, versions.c.number)
        .join(versions, versions.c.id == aliases.c.version_id)
        .where(aliases.c.model_id == model.id, aliases.c.name == alias)
    ).first()
    if expected_version is not None:
        held = current.number if current is not None else 0
        if held != expected_version:
            raise AliasConflict(
                f"{name}@{alias} points at {held or 'nothing'}, "
                f"expected {expected_version or 'nothing'}",
                current=held or None,
            )
    if current is not None and current.version_id == target.id:
        return
    if current is None:
        conn.execute(
            insert(aliases).values(
                model_id=model.id,
                name=alias,
                version_id=target.id,
                created_at=uow.now,
                created_by=uow.ctx.name,
                updated_at=uow.now,
                updated_by=uow.ctx.name,
            )
        )
    else:
        conn.execute(
            update(aliases)
            .where(aliases.c.model_id == model.id, aliases.c.name == alias)
            .values(version_id=target.id, updated_at=uow.now, updated_by=uow.ctx.name)
        )
    uow.record(
        "alias.set",
        f"{name}@{alias}",
        model=name,
        before={"version": current.number} if current is not None else None,
        after={"version": number, "digest": target.digest},
        model_id=model.id,
        alias=alias,
        from_version_id=current.version_id if current is not None else None,
        to_version_id=target.id,
    )


def keep_alias_history(uow: UnitOfWork, change: Change) -> None:
    """Subscriber of ``alias.set`` and ``alias.delete``: the model's alias history."""
    facts = change.facts
    uow.conn.execute(
        insert(alias_events).values(
            model_id=facts["model_id"],
            alias=facts["alias"],
            from_version_id=facts["from_version_id"],
            to_version_id=facts["to_version_id"],
            at=uow.now,
            actor=uow.ctx.name,
            request_id=uow.applying.get((facts["model_id"], facts["alias"])),
        )
    )


def _alias_read(
    conn: Connection, model: Row[Any], alias: str, is_protected: bool | None = None
) -> AliasRead:
    row = conn.execute(
        select(aliases, versions.c.number, versions.c.status)
        .join(versions, versions.c.id == aliases.c.version_id)
        .where(aliases.c.model_id == model.id, aliases.c.name == alias)
    ).first()
    if row is None:
        raise AliasNotFound(f"model {model.name!r} has no alias {alias!r}", model=model.name)
    if is_protected is None:
        from modeldepot.governance.protection import protected

        is_protected = protected(conn, model.name, alias)
    return _row_to_read(model.name, row, is_protected)


def _row_to_read(model_name: str, row: Row[Any], is_protected: bool) -> AliasRead:
    return AliasRead(
        model=model_name,
        name=row.name,
        version=row.number,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        version_status=row.status,
        protected=is_protected,
    )
