"""ModelService: create, read, list, update, soft-delete and restore models."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from modeldepot.actor import Actor
from modeldepot.cards import KNOWN_SECTIONS, parse_card
from modeldepot.db.engine import Database
from modeldepot.db.tables import model_tags, models
from modeldepot.db.types import utcnow
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
from modeldepot.schemas import CardRead, ModelCreate, ModelRead, ModelUpdate, Page


class ModelService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_model(self, data: ModelCreate, actor: Actor) -> ModelRead:
        """Create a model; ModelExists if the name is taken (even by a deleted model)."""
        name = validate_name(data.name)
        description = check_description(data.description)
        tags = check_tags(data.tags)
        owner = _check_owner(data.owner, data.contacts, data.risk_reason)
        with self.db.write() as conn:
            if conn.execute(select(models.c.id).where(models.c.name == name)).first():
                raise ModelExists(f"model {name!r} already exists", model=name)
            model_id = insert_model(conn, name, description, actor)
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
            index_model(conn, model_id)
            return to_model_read(conn, model_row(conn, name))

    def get_model(self, name: str, *, include_deleted: bool = False) -> ModelRead:
        with self.db.read() as conn:
            return to_model_read(conn, model_row(conn, name, include_deleted=include_deleted))

    def list_models(
        self,
        *,
        prefix: str | None = None,
        include_deleted: bool = False,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[ModelRead]:
        """Models ordered by name; ``prefix`` selects a namespace (``ads/``) or name prefix."""
        limit = check_limit(limit)
        query = select(*MODEL_ROW).order_by(models.c.name).limit(limit + 1)
        if prefix:
            reject_nul("prefix", prefix)
            query = query.where(models.c.name.startswith(prefix, autoescape=True))
        if not include_deleted:
            query = query.where(models.c.deleted_at.is_(None))
        if cursor:
            (after,) = decode_cursor(cursor, str)
            query = query.where(models.c.name > after)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
            items = to_model_reads(conn, rows[:limit])
        next_cursor = encode_cursor(rows[limit - 1].name) if len(rows) > limit else None
        return Page[ModelRead](items=items, next_cursor=next_cursor)

    def update_model(self, name: str, data: ModelUpdate, actor: Actor) -> ModelRead:
        tags = check_tags(data.tags)
        remove = [check_key("tag", k) for k in data.remove_tags]
        with self.db.write() as conn:
            row = model_row(conn, name)
            values = {"updated_at": utcnow(), "updated_by": actor.name}
            if data.description is not None:
                values["description"] = check_description(data.description)
            _check_owner(data.owner, data.contacts or [], data.risk_reason or "")
            for field in ("owner", "contacts", "risk_level", "risk_reason"):
                if field in data.model_fields_set:
                    values[field] = getattr(data, field)
            if values.get("owner") == "":
                values["owner"] = None
            if "contacts" in values and values["contacts"] is None:
                values["contacts"] = []
            if "risk_reason" in values and values["risk_reason"] is None:
                values["risk_reason"] = ""
            conn.execute(update(models).where(models.c.id == row.id).values(**values))
            if remove:
                conn.execute(
                    delete(model_tags).where(
                        model_tags.c.model_id == row.id, model_tags.c.key.in_(remove)
                    )
                )
            for key, value in tags.items():
                _upsert_tag(conn, row.id, key, value)
            index_model(conn, row.id)
            return to_model_read(conn, model_row(conn, name))

    def set_tag(self, name: str, key: str, value: str, actor: Actor) -> ModelRead:
        return self.update_model(name, ModelUpdate(tags={key: value}), actor)

    def delete_tag(self, name: str, key: str, actor: Actor) -> ModelRead:
        check_key("tag", key)
        with self.db.write() as conn:
            row = model_row(conn, name)
            result = conn.execute(
                delete(model_tags).where(model_tags.c.model_id == row.id, model_tags.c.key == key)
            )
            if result.rowcount == 0:
                raise TagNotFound(f"model {name!r} has no tag {key!r}")
            _touch(conn, row.id, actor)
            index_model(conn, row.id)
            return to_model_read(conn, model_row(conn, name))

    def delete_model(self, name: str, actor: Actor) -> ModelRead:
        """Soft-delete: nothing of the model resolves until it is restored."""
        with self.db.write() as conn:
            row = model_row(conn, name)
            now = utcnow()
            conn.execute(
                update(models)
                .where(models.c.id == row.id)
                .values(
                    deleted_at=now, deleted_by=actor.name, updated_at=now, updated_by=actor.name
                )
            )
            return to_model_read(conn, model_row(conn, name, include_deleted=True))

    def restore_model(self, name: str, actor: Actor) -> ModelRead:
        with self.db.write() as conn:
            row = model_row(conn, name, include_deleted=True)
            conn.execute(
                update(models)
                .where(models.c.id == row.id)
                .values(
                    deleted_at=None, deleted_by=None, updated_at=utcnow(), updated_by=actor.name
                )
            )
            return to_model_read(conn, model_row(conn, name))

    def get_card(self, name: str) -> CardRead:
        with self.db.read() as conn:
            row = model_row(conn, name)
            text = conn.execute(select(models.c.card).where(models.c.id == row.id)).scalar()
        return card_read(text)

    def set_card(self, name: str, text: str | None, actor: Actor) -> CardRead:
        """Replace the model's card (None removes it); its completeness is recomputed."""
        card = parse_card(text) if text is not None else None
        with self.db.write() as conn:
            row = model_row(conn, name)
            conn.execute(
                update(models)
                .where(models.c.id == row.id)
                .values(
                    card=text,
                    card_completeness=card.completeness if card else None,
                    updated_at=utcnow(),
                    updated_by=actor.name,
                )
            )
            index_model(conn, row.id)
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


def insert_model(conn: Connection, name: str, description: str, actor: Actor) -> int:
    now = utcnow()
    return conn.execute(
        insert(models)
        .values(
            name=name,
            description=description,
            last_version_number=0,
            created_at=now,
            created_by=actor.name,
            updated_at=now,
            updated_by=actor.name,
        )
        .returning(models.c.id)
    ).scalar_one()


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


def _touch(conn: Connection, model_id: int, actor: Actor) -> None:
    conn.execute(
        update(models)
        .where(models.c.id == model_id)
        .values(updated_at=utcnow(), updated_by=actor.name)
    )
