"""DatasetService: datasets as first-class records, and who used them.

Answers "which versions used this data?" and "which live aliases point at versions
that used it?": the questions of a data bug, a licence problem or an erasure request
(and, through ``versions_used``, what revocation by dataset revokes: see
``governance/lifecycle.py``).
A dataset is named by URI, optionally narrowed to one digest (one snapshot of it).

Datasets are shared records, not owned by a model: a caller sees a dataset only if a
version it may read used it, and sees only such versions and their aliases. Every
filter is inside the SQL, so pages and cursors count readable rows alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, exists, select, true, tuple_

from modeldepot.db.tables import aliases, datasets, models, version_datasets, versions
from modeldepot.errors import DatasetNotFound, InvalidInput
from modeldepot.metadata import reject_nul
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.unit import Reading, Units
from modeldepot.schemas import Page
from modeldepot.schemas.datasets import AliasImpact, DatasetUsage
from modeldepot.schemas.lineage import DatasetRead
from modeldepot.security.access import Access
from modeldepot.security.context import Context


class DatasetService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def list_datasets(
        self,
        ctx: Context,
        *,
        uri_prefix: str | None = None,
        personal_data: bool | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[DatasetRead]:
        """Datasets the caller can see, in the order they were first recorded."""
        limit = check_limit(limit)
        query = select(datasets).order_by(datasets.c.id).limit(limit + 1)
        if uri_prefix:
            _check_text(uri_prefix)
            query = query.where(datasets.c.uri.startswith(uri_prefix, autoescape=True))
        if personal_data is not None:
            query = query.where(datasets.c.personal_data == personal_data)
        if cursor:
            (after,) = decode_cursor(cursor, int)
            query = query.where(datasets.c.id > after)
        with self.units.read(ctx) as reading:
            rows = reading.conn.execute(query.where(_visible(reading.access))).all()
        items = [_dataset_read(r) for r in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
        return Page[DatasetRead](items=items, next_cursor=next_cursor)

    def get_dataset(self, ctx: Context, dataset_id: int) -> DatasetRead:
        """One dataset; DatasetNotFound if it does not exist or the caller cannot see it."""
        query = select(datasets).where(datasets.c.id == dataset_id)
        with self.units.read(ctx) as reading:
            row = reading.conn.execute(query.where(_visible(reading.access))).first()
        if row is None:
            raise DatasetNotFound(f"dataset {dataset_id} does not exist")
        return _dataset_read(row)

    def versions_using(
        self,
        ctx: Context,
        uri: str,
        digest: str | None = None,
        *,
        include_deleted: bool = False,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[DatasetUsage]:
        """Readable versions that used the dataset (any snapshot of ``uri`` unless
        ``digest``); DatasetNotFound if the caller can see no such dataset."""
        limit = check_limit(limit)
        query = (
            select(
                version_datasets.c.version_id,
                version_datasets.c.role,
                datasets.c.id.label("dataset_id"),
                datasets.c.digest,
                models.c.name,
                versions.c.number,
                versions.c.deleted_at,
            )
            .select_from(version_datasets)
            .join(datasets, datasets.c.id == version_datasets.c.dataset_id)
            .join(versions, versions.c.id == version_datasets.c.version_id)
            .join(models, models.c.id == versions.c.model_id)
            .order_by(version_datasets.c.version_id, datasets.c.id, version_datasets.c.role)
            .limit(limit + 1)
        )
        query = self._matching(query, uri, digest)
        if not include_deleted:
            query = query.where(versions.c.deleted_at.is_(None), models.c.deleted_at.is_(None))
        if cursor:
            after_version, after_dataset, after_role = decode_cursor(cursor, int, int, str)
            key = (version_datasets.c.version_id, datasets.c.id, version_datasets.c.role)

            query = query.where(tuple_(*key) > tuple_(after_version, after_dataset, after_role))
        with self.units.read(ctx) as reading:
            self._require(reading, uri, digest)
            rows = reading.conn.execute(query.where(reading.access.readable(models.c.name))).all()
        items = [
            DatasetUsage(
                model=r.name,
                number=r.number,
                role=r.role,
                dataset_id=r.dataset_id,
                digest=r.digest,
                deleted=r.deleted_at is not None,
            )
            for r in rows[:limit]
        ]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last.version_id, last.dataset_id, last.role)
        return Page[DatasetUsage](items=items, next_cursor=next_cursor)

    def impact(self, ctx: Context, uri: str, digest: str | None = None) -> list[AliasImpact]:
        """Every alias of a readable model that now points at a version which used the
        dataset; DatasetNotFound if the caller can see no such dataset."""
        query = (
            select(
                models.c.name,
                aliases.c.name.label("alias"),
                versions.c.number,
                version_datasets.c.role,
                datasets.c.digest,
            )
            .select_from(aliases)
            .join(versions, versions.c.id == aliases.c.version_id)
            .join(models, models.c.id == aliases.c.model_id)
            .join(version_datasets, version_datasets.c.version_id == versions.c.id)
            .join(datasets, datasets.c.id == version_datasets.c.dataset_id)
            .where(models.c.deleted_at.is_(None))
            .order_by(models.c.name, aliases.c.name, version_datasets.c.role, datasets.c.digest)
        )
        query = self._matching(query, uri, digest)
        with self.units.read(ctx) as reading:
            self._require(reading, uri, digest)
            rows = reading.conn.execute(query.where(reading.access.readable(models.c.name))).all()
        return [
            AliasImpact(model=r.name, alias=r.alias, number=r.number, role=r.role, digest=r.digest)
            for r in rows
        ]

    @staticmethod
    def _matching(query: Select[Any], uri: str, digest: str | None) -> Select[Any]:
        _check_text(uri)
        query = query.where(datasets.c.uri == uri)
        if digest is not None:
            _check_text(digest)
            query = query.where(datasets.c.digest == digest)
        return query

    @staticmethod
    def _require(reading: Reading, uri: str, digest: str | None) -> None:
        require_dataset(reading.conn, reading.access, uri, digest)


def require_dataset(conn: Connection, access: Access, uri: str, digest: str | None) -> None:
    """DatasetNotFound unless ``access`` may see a dataset ``uri`` (at ``digest``)."""
    query = select(datasets.c.id).where(datasets.c.uri == uri, _visible(access))
    if digest is not None:
        query = query.where(datasets.c.digest == digest)
    if conn.execute(query.limit(1)).first() is None:
        suffix = f" with digest {digest}" if digest is not None else ""
        raise DatasetNotFound(f"no dataset {uri!r}{suffix} is recorded")


def versions_used(conn: Connection, access: Access, uri: str, digest: str | None) -> list[Any]:
    """Every version of a live model ``access`` may read that used the dataset (any
    snapshot of ``uri`` unless ``digest``), deleted versions too, once each, by model
    and number: rows of ``id``, ``model_id``, ``name``, ``number``, ``status``,
    ``deleted_at``. DatasetNotFound if the caller can see no such dataset."""
    require_dataset(conn, access, uri, digest)
    used = DatasetService._matching(
        select(version_datasets.c.version_id)
        .join(datasets, datasets.c.id == version_datasets.c.dataset_id)
        .where(version_datasets.c.version_id == versions.c.id),
        uri,
        digest,
    )
    query = (
        select(
            versions.c.id,
            versions.c.model_id,
            models.c.name,
            versions.c.number,
            versions.c.status,
            versions.c.deleted_at,
        )
        .join(models, models.c.id == versions.c.model_id)
        .where(exists(used), models.c.deleted_at.is_(None), access.readable(models.c.name))
        .order_by(models.c.name, versions.c.number)
    )
    return list(conn.execute(query).all())


def _visible(access: Access) -> ColumnElement[bool]:
    """Datasets ``access`` may see: those a version of a readable model used (deleted
    versions too, as ``versions_using`` can list them). Who reads every model sees
    every dataset, including any no version uses any more."""
    if access.reads_everything:
        return true()
    used = (
        select(version_datasets.c.dataset_id)
        .join(versions, versions.c.id == version_datasets.c.version_id)
        .join(models, models.c.id == versions.c.model_id)
        .where(version_datasets.c.dataset_id == datasets.c.id, access.readable(models.c.name))
    )
    return exists(used)


def _check_text(text: str) -> None:
    reject_nul("dataset URI or digest", text)
    if len(text) > 1000:
        raise InvalidInput("dataset URI or digest is longer than 1000 characters")


def _dataset_read(row: Any) -> DatasetRead:
    return DatasetRead(
        id=row.id,
        uri=row.uri,
        digest=row.digest,
        name=row.name,
        size=row.size,
        personal_data=row.personal_data,
    )
