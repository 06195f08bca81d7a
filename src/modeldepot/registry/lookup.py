"""Row lookups and row-to-schema conversion shared by the registry services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, or_, select

from modeldepot.db.tables import (
    alias_events,
    aliases,
    model_tags,
    models,
    version_metrics,
    version_params,
    version_tags,
    versions,
)
from modeldepot.errors import (
    AliasNotFound,
    ModelDeleted,
    ModelNotFound,
    VersionDeleted,
    VersionNotFound,
)
from modeldepot.refs import Ref, RefKind, validate_name
from modeldepot.schemas import ModelRead, VersionRead

# The columns of a row as services pass them around: not the card nor the lineage,
# which can be large and are read only by the calls that return them.
MODEL_ROW = [c for c in models.c if c.name != "card"]
VERSION_ROW = [c for c in versions.c if c.name not in ("card", "lineage")]

# Built once: these run on every read, and a prebuilt statement skips SQLAlchemy's
# statement construction and hits its compiled cache.
_MODEL = select(*MODEL_ROW).where(models.c.name == bindparam("name"))
_VERSION = select(*VERSION_ROW).where(
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
).where(version_metrics.c.version_id.in_(_IDS), version_metrics.c.slice == "")
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
            owner=row.owner,
            contacts=row.contacts or [],
            risk_level=row.risk_level,
            risk_reason=row.risk_reason,
            card_completeness=row.card_completeness,
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
    conn: Connection, model_name: str | Sequence[str], rows: Sequence[Row[Any]]
) -> list[VersionRead]:
    """Convert version rows, loading their metadata in four queries for all of them.

    ``model_name`` names the model of every row, or is a sequence naming each row's.
    """
    names_of = [model_name] * len(rows) if isinstance(model_name, str) else list(model_name)
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
            model=model,
            number=r.number,
            digest=r.digest,
            description=r.description,
            tags=tags[r.id],
            params=params[r.id],
            metrics=metrics[r.id],
            aliases=names[r.id],
            total_size=r.total_size,
            file_count=r.file_count,
            format=r.format,
            card_completeness=r.card_completeness,
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            updated_by=r.updated_by,
            deleted_at=r.deleted_at,
            deleted_by=r.deleted_by,
            status=r.status,
            status_reason=r.status_reason,
            replacement=r.status_replacement,
            status_at=r.status_at,
            status_by=r.status_by,
        )
        for model, r in zip(names_of, rows, strict=True)
    ]


def to_version_read(conn: Connection, model_name: str, row: Row[Any]) -> VersionRead:
    return to_version_reads(conn, model_name, [row])[0]


def versions_by_ids(conn: Connection, ids: Sequence[int]) -> list[VersionRead]:
    """Versions of any models, in the order of ``ids`` (unknown ids are skipped)."""
    if not ids:
        return []
    rows = conn.execute(
        select(*VERSION_ROW, models.c.name.label("model_name"))
        .join(models, models.c.id == versions.c.model_id)
        .where(versions.c.id.in_(list(ids)))
    ).all()
    reads = to_version_reads(conn, [r.model_name for r in rows], rows)
    found = {row.id: read for row, read in zip(rows, reads, strict=True)}
    return [found[i] for i in ids if i in found]


def models_by_ids(conn: Connection, ids: Sequence[int]) -> list[ModelRead]:
    """Models in the order of ``ids`` (unknown ids are skipped)."""
    if not ids:
        return []
    rows = conn.execute(select(*MODEL_ROW).where(models.c.id.in_(list(ids)))).all()
    reads = {row.id: read for row, read in zip(rows, to_model_reads(conn, rows), strict=True)}
    return [reads[i] for i in ids if i in reads]


_LATEST = (
    select(*VERSION_ROW)
    .where(versions.c.model_id == bindparam("model_id"), versions.c.deleted_at.is_(None))
    .order_by(versions.c.number.desc())
    .limit(1)
)
_BY_ALIAS = (
    select(*VERSION_ROW)
    .join(aliases, aliases.c.version_id == versions.c.id)
    .where(aliases.c.model_id == bindparam("model_id"), aliases.c.name == bindparam("alias"))
)
_BY_DIGEST = (
    select(*VERSION_ROW)
    .where(versions.c.model_id == bindparam("model_id"), versions.c.digest == bindparam("digest"))
    .order_by(versions.c.deleted_at.is_not(None), versions.c.number.desc())
    .limit(1)
)


def resolve_row(
    conn: Connection, ref: Ref, *, include_deleted: bool, at: datetime | None = None
) -> tuple[Row[Any], Row[Any]]:
    """The model row and version row ``ref`` names. Aliases and ``latest`` skip deleted.

    With ``at``, the answer as of that instant: an alias resolves to the version it
    pointed at then (from the alias's event log), ``latest`` to the newest version
    created by then and not deleted by then, and other references only to versions
    that existed then.
    """
    model = model_row(conn, ref.name)
    if at is not None:
        return model, _resolve_at(conn, model, ref, at)
    if ref.kind is RefKind.NUMBER:
        assert ref.number is not None
        return model, version_row(conn, model, ref.number, include_deleted=include_deleted)
    if ref.kind is RefKind.LATEST:
        row = conn.execute(_LATEST, {"model_id": model.id}).first()
        if row is None:
            raise VersionNotFound(f"model {model.name!r} has no live versions", model=model.name)
        return model, row
    if ref.kind is RefKind.ALIAS:
        row = conn.execute(_BY_ALIAS, {"model_id": model.id, "alias": ref.alias}).first()
        if row is None:
            raise AliasNotFound(
                f"model {model.name!r} has no alias {ref.alias!r}", model=model.name
            )
        return model, row
    # Live versions first, newest first; a deleted one only when asked for.
    row = conn.execute(_BY_DIGEST, {"model_id": model.id, "digest": ref.digest}).first()
    if row is None or (row.deleted_at is not None and not include_deleted):
        raise VersionNotFound(f"model {model.name!r} has no version with digest {ref.digest}")
    return model, row


_ALIAS_AT = (
    select(alias_events.c.to_version_id)
    .where(
        alias_events.c.model_id == bindparam("model_id"),
        alias_events.c.alias == bindparam("alias"),
        alias_events.c.at <= bindparam("at"),
    )
    .order_by(alias_events.c.at.desc(), alias_events.c.id.desc())
    .limit(1)
)


def _resolve_at(conn: Connection, model: Row[Any], ref: Ref, at: datetime) -> Row[Any]:
    when = at.isoformat().replace("+00:00", "Z")
    if ref.kind is RefKind.ALIAS:
        event = conn.execute(
            _ALIAS_AT, {"model_id": model.id, "alias": ref.alias, "at": at}
        ).first()
        if event is None or event.to_version_id is None:
            raise AliasNotFound(
                f"{model.name}@{ref.alias} was not set at {when}", model=model.name, at=when
            )
        return conn.execute(select(*VERSION_ROW).where(versions.c.id == event.to_version_id)).one()
    existed = versions.c.created_at <= at
    if ref.kind is RefKind.LATEST:
        row = conn.execute(
            select(*VERSION_ROW)
            .where(
                versions.c.model_id == model.id,
                existed,
                or_(versions.c.deleted_at.is_(None), versions.c.deleted_at > at),
            )
            .order_by(versions.c.number.desc())
            .limit(1)
        ).first()
        if row is None:
            raise VersionNotFound(f"model {model.name!r} had no live versions at {when}")
        return row
    if ref.kind is RefKind.NUMBER:
        row = conn.execute(
            select(*VERSION_ROW).where(
                versions.c.model_id == model.id, versions.c.number == ref.number, existed
            )
        ).first()
    else:
        row = conn.execute(
            select(*VERSION_ROW)
            .where(versions.c.model_id == model.id, versions.c.digest == ref.digest, existed)
            .order_by(versions.c.number.desc())
            .limit(1)
        ).first()
    if row is None:
        raise VersionNotFound(f"{ref} did not exist at {when}", model=model.name)
    return row
