"""ModelService: create, read, list, update, soft-delete and restore models."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from modeldepot.cards import KNOWN_SECTIONS, parse_card
from modeldepot.db.tables import model_tags, models
from modeldepot.errors import InvalidInput, ModelExists, TagNotFound
from modeldepot.metadata import (
    check_description,
    check_key,
    check_tag_value,
    check_tags,
    reject_nul,
)
from modeldepot.refs import validate_name
from modeldepot.registry.lookup import (
    MODEL_ROW,
    model_row,
    to_model_read,
    to_model_reads,
)
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.textindex import index_model
from modeldepot.registry.unit import Change, UnitOfWork, Units
from modeldepot.schemas import CardRead, ModelCreate, ModelRead, ModelUpdate, Page
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

# Fields of a model only its maintainers change: who answers for it, and its risk.
MANAGED = ("owner", "contacts", "risk_level", "risk_reason")


class ModelService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def create_model(self, ctx: Context, data: ModelCreate) -> ModelRead:
        """Create a model; ModelExists if the name is taken (even by a deleted model)."""
        name = validate_name(data.name)
        description = check_description(data.description)
        tags = check_tags(data.tags)
        owner = _check_owner(data.owner, data.contacts, data.risk_reason)
        with self.units.write(ctx) as uow:
            uow.require(Permission.MODEL_CREATE, name)
            if data.owner or data.contacts or data.risk_level or data.risk_reason:
                uow.require(Permission.MODEL_MANAGE, name)
            conn = uow.conn
            if conn.execute(select(models.c.id).where(models.c.name == name)).first():
                raise ModelExists(f"model {name!r} already exists", model=name)
            details = {
                "owner": owner,
                "contacts": data.contacts,
                "risk_level": data.risk_level,
                "risk_reason": data.risk_reason,
                "tags": tags,
            }
            model_id = insert_model(uow, name, description, **details)
            conn.execute(
                update(models)
                .where(models.c.id == model_id)
                .values(
                    owner=owner,
                    contacts=data.contacts,
                    risk_level=data.risk_level,
                    risk_reason=data.risk_reason,
                )
            )
            _replace_tags(conn, model_id, tags)
            return to_model_read(conn, model_row(conn, name))

    def get_model(self, ctx: Context, name: str, *, include_deleted: bool = False) -> ModelRead:
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            conn = reading.conn
            return to_model_read(conn, model_row(conn, name, include_deleted=include_deleted))

    def list_models(
        self,
        ctx: Context,
        *,
        prefix: str | None = None,
        include_deleted: bool = False,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[ModelRead]:
        """Models the caller may read, ordered by name; ``prefix`` selects a namespace
        (``ads/``) or name prefix."""
        limit = check_limit(limit)
        query = (
            select(*MODEL_ROW)
            .where(ctx.access.readable(models.c.name))
            .order_by(models.c.name)
            .limit(limit + 1)
        )
        if prefix:
            reject_nul("prefix", prefix)
            query = query.where(models.c.name.startswith(prefix, autoescape=True))
        if not include_deleted:
            query = query.where(models.c.deleted_at.is_(None))
        if cursor:
            (after,) = decode_cursor(cursor, str)
            query = query.where(models.c.name > after)
        with self.units.read(ctx) as reading:
            rows = reading.conn.execute(query).all()
            items = to_model_reads(reading.conn, rows[:limit])
        next_cursor = encode_cursor(rows[limit - 1].name) if len(rows) > limit else None
        return Page[ModelRead](items=items, next_cursor=next_cursor)

    def update_model(
        self, ctx: Context, name: str, data: ModelUpdate, *, action: str = "model.update"
    ) -> ModelRead:
        """Change what ``data`` sets. Descriptions and tags need ``metadata:edit``;
        owner, contacts and risk need ``model:manage``. Recorded as ``action``."""
        tags = check_tags(data.tags)
        remove = [check_key("tag", k) for k in data.remove_tags]
        managed = [f for f in MANAGED if f in data.model_fields_set]
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            if managed:
                uow.require(Permission.MODEL_MANAGE, name)
            conn = uow.conn
            row = model_row(conn, name)
            values: dict[str, Any] = {"updated_at": uow.now, "updated_by": ctx.name}
            if data.description is not None:
                values["description"] = check_description(data.description)
            _check_owner(data.owner, data.contacts or [], data.risk_reason or "")
            for field in managed:
                values[field] = getattr(data, field)
            if values.get("owner") == "":
                values["owner"] = None
            if "contacts" in values and values["contacts"] is None:
                values["contacts"] = []
            if "risk_reason" in values and values["risk_reason"] is None:
                values["risk_reason"] = ""
            conn.execute(update(models).where(models.c.id == row.id).values(**values))
            old_tags = _tags_of(conn, row.id, [*remove, *tags])
            if remove:
                conn.execute(
                    delete(model_tags).where(
                        model_tags.c.model_id == row.id, model_tags.c.key.in_(remove)
                    )
                )
            for key, value in tags.items():
                _upsert_tag(conn, row.id, key, value)
            changed = [k for k in values if k not in ("updated_at", "updated_by")]
            before: dict[str, Any] = {k: getattr(row, k) for k in changed}
            after: dict[str, Any] = {k: values[k] for k in changed}
            if tags or remove:
                before["tags"] = old_tags
                after["tags"] = {**{k: None for k in remove}, **tags}
            target = f"{name}#{next(iter(tags))}" if action == "model.tag.set" else name
            uow.record(action, target, model=name, before=before, after=after, model_id=row.id)
            return to_model_read(conn, model_row(conn, name))

    def set_tag(self, ctx: Context, name: str, key: str, value: str) -> ModelRead:
        return self.update_model(ctx, name, ModelUpdate(tags={key: value}), action="model.tag.set")

    def delete_tag(self, ctx: Context, name: str, key: str) -> ModelRead:
        check_key("tag", key)
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            conn = uow.conn
            row = model_row(conn, name)
            old = _tags_of(conn, row.id, [key])
            result = conn.execute(
                delete(model_tags).where(model_tags.c.model_id == row.id, model_tags.c.key == key)
            )
            if result.rowcount == 0:
                raise TagNotFound(f"model {name!r} has no tag {key!r}")
            _touch(uow, row.id)
            uow.record(
                "model.tag.delete",
                f"{name}#{key}",
                model=name,
                before={key: old.get(key)},
                model_id=row.id,
            )
            return to_model_read(conn, model_row(conn, name))

    def delete_model(self, ctx: Context, name: str) -> ModelRead:
        """Soft-delete: nothing of the model resolves until it is restored."""
        with self.units.write(ctx) as uow:
            uow.require(Permission.DELETE, name)
            conn = uow.conn
            row = model_row(conn, name)
            conn.execute(
                update(models)
                .where(models.c.id == row.id)
                .values(
                    deleted_at=uow.now,
                    deleted_by=ctx.name,
                    updated_at=uow.now,
                    updated_by=ctx.name,
                )
            )
            uow.record("model.delete", name, model=name, model_id=row.id)
            return to_model_read(conn, model_row(conn, name, include_deleted=True))

    def restore_model(self, ctx: Context, name: str) -> ModelRead:
        with self.units.write(ctx) as uow:
            uow.require(Permission.DELETE, name)
            conn = uow.conn
            row = model_row(conn, name, include_deleted=True)
            conn.execute(
                update(models)
                .where(models.c.id == row.id)
                .values(deleted_at=None, deleted_by=None, updated_at=uow.now, updated_by=ctx.name)
            )
            uow.record("model.restore", name, model=name, model_id=row.id)
            return to_model_read(conn, model_row(conn, name))

    def get_card(self, ctx: Context, name: str) -> CardRead:
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            row = model_row(reading.conn, name)
            text = reading.conn.execute(select(models.c.card).where(models.c.id == row.id)).scalar()
        return card_read(text)

    def set_card(self, ctx: Context, name: str, text: str | None) -> CardRead:
        """Replace the model's card (None removes it); its completeness is recomputed."""
        card = parse_card(text) if text is not None else None
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            conn = uow.conn
            row = model_row(conn, name)
            conn.execute(
                update(models)
                .where(models.c.id == row.id)
                .values(
                    card=text,
                    card_completeness=card.completeness if card else None,
                    updated_at=uow.now,
                    updated_by=ctx.name,
                )
            )
            uow.record(
                "model.card.set",
                f"{name}/card",
                model=name,
                before={"completeness": row.card_completeness},
                after={
                    "completeness": card.completeness if card else None,
                    "sha256": _text_digest(text),
                },
                model_id=row.id,
            )
        return card_read(text)


def card_read(text: str | None) -> CardRead:
    if text is None:
        return CardRead(card=None, completeness=None, missing=list(KNOWN_SECTIONS))
    card = parse_card(text)
    return CardRead(
        card=text,
        completeness=card.completeness,
        missing=card.missing,
        front_matter=card.front_matter,
    )


def _check_owner(owner: str | None, contacts: list[str], reason: str) -> str | None:
    for text in (owner or "", reason, *contacts):
        reject_nul("owner, contacts or risk reason", text)
    for contact in contacts:
        if not contact or len(contact) > 320:
            raise InvalidInput("each contact must be 1-320 characters")
    return owner or None


def insert_model(uow: UnitOfWork, name: str, description: str, **details: Any) -> int:
    """Insert the model ``name`` and record ``model.create`` (the caller checked the
    permission and that the name is free)."""
    model_id = uow.conn.execute(
        insert(models)
        .values(
            name=name,
            description=description,
            last_version_number=0,
            created_at=uow.now,
            created_by=uow.ctx.name,
            updated_at=uow.now,
            updated_by=uow.ctx.name,
        )
        .returning(models.c.id)
    ).scalar_one()
    uow.record(
        "model.create",
        name,
        model=name,
        after={"description": description, **details},
        model_id=model_id,
    )
    return int(model_id)


def index_model_change(uow: UnitOfWork, change: Change) -> None:
    """Subscriber of the model changes search sees: keeps the model's search text."""
    index_model(uow.conn, change.facts["model_id"])


def _tags_of(conn: Connection, model_id: int, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = conn.execute(
        select(model_tags.c.key, model_tags.c.value).where(
            model_tags.c.model_id == model_id, model_tags.c.key.in_(keys)
        )
    )
    return {r.key: r.value for r in rows}


def _text_digest(text: str | None) -> str | None:
    if text is None:
        return None
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _replace_tags(conn: Connection, model_id: int, tags: dict[str, str]) -> None:
    conn.execute(delete(model_tags).where(model_tags.c.model_id == model_id))
    if tags:
        conn.execute(
            insert(model_tags),
            [{"model_id": model_id, "key": k, "value": v} for k, v in tags.items()],
        )


def _upsert_tag(conn: Connection, model_id: int, key: str, value: str) -> None:
    check_tag_value(key, value)
    updated = conn.execute(
        update(model_tags)
        .where(model_tags.c.model_id == model_id, model_tags.c.key == key)
        .values(value=value)
    )
    if updated.rowcount == 0:
        conn.execute(insert(model_tags).values(model_id=model_id, key=key, value=value))


def _touch(uow: UnitOfWork, model_id: int) -> None:
    uow.conn.execute(
        update(models)
        .where(models.c.id == model_id)
        .values(updated_at=uow.now, updated_by=uow.ctx.name)
    )
