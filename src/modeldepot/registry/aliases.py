"""AliasService: set, move and delete aliases; every change is kept as an event.

The event log (``alias_events``) records who moved which alias from which version to
which and when, so an alias can be resolved at any past instant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from modeldepot.actor import Actor
from modeldepot.db.engine import Database
from modeldepot.db.tables import alias_events, aliases, versions
from modeldepot.db.types import utcnow
from modeldepot.errors import AliasConflict, AliasNotFound
from modeldepot.refs import validate_alias
from modeldepot.registry.lookup import model_row, version_row
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.schemas import AliasEventRead, AliasRead, Page


class AliasService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set_alias(
        self,
        name: str,
        alias: str,
        number: int,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> AliasRead:
        """Point ``alias`` at version ``number`` (creating or moving it).

        With ``expected_version`` the move happens only if the alias points there now
        (0 meaning "is unset"), else AliasConflict: a compare-and-set for safe rollouts.
        Setting an alias to the version it already holds records nothing.
        """
        validate_alias(alias)
        with self.db.write() as conn:
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
            now = utcnow()
            if current is None:
                conn.execute(
                    insert(aliases).values(
                        model_id=model.id,
                        name=alias,
                        version_id=target.id,
                        created_at=now,
                        created_by=actor.name,
                        updated_at=now,
                        updated_by=actor.name,
                    )
                )
            elif current.version_id != target.id:
                conn.execute(
                    update(aliases)
                    .where(aliases.c.model_id == model.id, aliases.c.name == alias)
                    .values(version_id=target.id, updated_at=now, updated_by=actor.name)
                )
            if current is None or current.version_id != target.id:
                conn.execute(
                    insert(alias_events).values(
                        model_id=model.id,
                        alias=alias,
                        from_version_id=current.version_id if current is not None else None,
                        to_version_id=target.id,
                        at=now,
                        actor=actor.name,
                    )
                )
            return _alias_read(conn, model, alias)

    def delete_alias(self, name: str, alias: str, actor: Actor) -> None:
        validate_alias(alias)
        with self.db.write() as conn:
            model = model_row(conn, name)
            current = conn.execute(
                select(aliases.c.version_id).where(
                    aliases.c.model_id == model.id, aliases.c.name == alias
                )
            ).first()
            if current is None:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}", model=name)
            conn.execute(
                delete(aliases).where(aliases.c.model_id == model.id, aliases.c.name == alias)
            )
            conn.execute(
                insert(alias_events).values(
                    model_id=model.id,
                    alias=alias,
                    from_version_id=current.version_id,
                    to_version_id=None,
                    at=utcnow(),
                    actor=actor.name,
                )
            )

    def get_alias(self, name: str, alias: str) -> AliasRead:
        validate_alias(alias)
        with self.db.read() as conn:
            return _alias_read(conn, model_row(conn, name), alias)

    def list_aliases(
        self, name: str, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[AliasRead]:
        limit = check_limit(limit)
        with self.db.read() as conn:
            model = model_row(conn, name)
            query = (
                select(aliases, versions.c.number)
                .join(versions, versions.c.id == aliases.c.version_id)
                .where(aliases.c.model_id == model.id)
                .order_by(aliases.c.name)
                .limit(limit + 1)
            )
            if cursor:
                (after,) = decode_cursor(cursor, str)
                query = query.where(aliases.c.name > after)
            rows = conn.execute(query).all()
        items = [_row_to_read(model.name, r) for r in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1].name) if len(rows) > limit else None
        return Page[AliasRead](items=items, next_cursor=next_cursor)

    def alias_history(
        self,
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
        with self.db.read() as conn:
            model = model_row(conn, name)
            query = (
                select(
                    alias_events.c.id,
                    alias_events.c.alias,
                    alias_events.c.at,
                    alias_events.c.actor,
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
            )
            for r in rows[:limit]
        ]
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
        return Page[AliasEventRead](items=items, next_cursor=next_cursor)


def _alias_read(conn: Connection, model: Row[Any], alias: str) -> AliasRead:
    row = conn.execute(
        select(aliases, versions.c.number)
        .join(versions, versions.c.id == aliases.c.version_id)
        .where(aliases.c.model_id == model.id, aliases.c.name == alias)
    ).first()
    if row is None:
        raise AliasNotFound(f"model {model.name!r} has no alias {alias!r}", model=model.name)
    return _row_to_read(model.name, row)


def _row_to_read(model_name: str, row: Row[Any]) -> AliasRead:
    return AliasRead(
        model=model_name,
        name=row.name,
        version=row.number,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )
