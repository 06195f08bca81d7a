"""Row lookups and row-to-schema conversion shared by the registry services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select

from modeldepot.db.tables import (
    aliases,
    model_tags,
    models,
    version_metrics,
    version_params,
    version_tags,
    versions,
)
from modeldepot.errors import ModelDeleted, ModelNotFound, VersionDeleted, VersionNotFound
from modeldepot.refs import validate_name
from modeldepot.schemas import ModelRead, VersionRead

# Built once: these run on every read, and a prebuilt statement skips SQLAlchemy's
# statement construction and hits its compiled cache.
_MODEL = select(models).where(models.c.name == bindparam("name"))
_VERSION = select(versions).where(
    versions.c.model_id == bindparam("model_id"), versions.c.number == bindparam("number")
)
_IDS = bindparam("ids", expanding=True)
_MODEL_TAGS = select(model_tags.c.model_id, model_tags.c.key, model_tags.c.value).where(
    model_tags.c.model_id.in_(_IDS)
)
_LATEST_NUMBERS = (
    select(versions.c.model_id, func.max(versions.c.number))
    .where(versions.c.model_id.in_(_IDS), versions.c.deleted_at.is_(None))
    .group_by(versions.c.model_id)
)
_TAGS = select(version_tags.c.version_id, version_tags.c.key, version_tags.c.value).where(
    version_tags.c.version_id.in_(_IDS)
)
_PARAMS = select(version_params.c.version_id, version_params.c.key, version_params.c.value).where(
    version_params.c.version_id.in_(_IDS)
)
_METRICS = select(
    version_metrics.c.version_id, version_metrics.c.key, version_metrics.c.value
).where(version_metrics.c.version_id.in_(_IDS))
_ALIASES = (
    select(aliases.c.version_id, aliases.c.name)
    .where(aliases.c.version_id.in_(_IDS))
    .order_by(aliases.c.name)
)


def model_row(conn: Connection, name: str, *, include_deleted: bool = False) -> Row[Any]:
    """The model called ``name``; ModelNotFound, or ModelDeleted unless ``include_deleted``."""
    validate_name(name)
    row = conn.execute(_MODEL, {"name": name}).first()
    if row is None:
        raise ModelNotFound(f"model {name!r} does not exist", model=name)
    if row.deleted_at is not None and not include_deleted:
        raise ModelDeleted(f"model {name!r} is deleted; restore it to use it", model=name)
    return row


def version_row(
    conn: Connection, model: Row[Any], number: int, *, include_deleted: bool = False
) -> Row[Any]:
    row = conn.execute(_VERSION, {"model_id": model.id, "number": number}).first()
    if row is None:
        raise VersionNotFound(
            f"{model.name}:{number} does not exist", model=model.name, number=number
        )
    if row.deleted_at is not None and not include_deleted:
        raise VersionDeleted(
            f"{model.name}:{number} is deleted; restore it or ask for deleted versions",
            model=model.name,
            number=number,
        )
    return row


def to_model_read(conn: Connection, row: Row[Any]) -> ModelRead:
    return to_model_reads(conn, [row])[0]


def to_model_reads(conn: Connection, rows: Sequence[Row[Any]]) -> list[ModelRead]:
    """Convert model rows, loading tags and latest versions in two queries for all."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    for model_id, key, value in conn.execute(_MODEL_TAGS, {"ids": ids}):
        tags[model_id][key] = value
    latest = {model_id: number for model_id, number in conn.execute(_LATEST_NUMBERS, {"ids": ids})}
    return [
        ModelRead(
            name=row.name,
            description=row.description,
            tags=tags[row.id],
            latest_version=latest.get(row.id),
            created_at=row.created_at,
            created_by=row.created_by,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            deleted_at=row.deleted_at,
            deleted_by=row.deleted_by,
        )
        for row in rows
    ]


def to_version_reads(
    conn: Connection, model_name: str, rows: Sequence[Row[Any]]
) -> list[VersionRead]:
    """Convert version rows of one model, loading their metadata in four queries."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    params: dict[int, dict[str, Any]] = {i: {} for i in ids}
    metrics: dict[int, dict[str, float]] = {i: {} for i in ids}
    names: dict[int, list[str]] = {i: [] for i in ids}
    query = {"ids": ids}
    for vid, key, value in conn.execute(_TAGS, query):
        tags[vid][key] = value
    for vid, key, value in conn.execute(_PARAMS, query):
        params[vid][key] = value
    for vid, key, value in conn.execute(_METRICS, query):
        metrics[vid][key] = value
    for vid, name in conn.execute(_ALIASES, query):
        names[vid].append(name)
    return [
        VersionRead(
            model=model_name,
            number=r.number,
            digest=r.digest,
            description=r.description,
            tags=tags[r.id],
            params=params[r.id],
            metrics=metrics[r.id],
            aliases=names[r.id],
            total_size=r.total_size,
            file_count=r.file_count,
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            updated_by=r.updated_by,
            deleted_at=r.deleted_at,
            deleted_by=r.deleted_by,
        )
        for r in rows
    ]


def to_version_read(conn: Connection, model_name: str, row: Row[Any]) -> VersionRead:
    return to_version_reads(conn, model_name, [row])[0]
