"""VersionService: commit, resolve, list, soft-delete and restore versions.

A version becomes visible only when ``create_version`` commits: its number, files and
metadata are written in one transaction after every blob was found verified.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from modeldepot import failpoints
from modeldepot.cards import parse_card
from modeldepot.db import hotpath
from modeldepot.db.tables import (
    aliases,
    version_files,
    version_params,
    version_tags,
    versions,
)
from modeldepot.errors import (
    FileNotInVersion,
    TagNotFound,
    VersionInUse,
    VersionRevoked,
)
from modeldepot.manifest import SCHEMA, Manifest, normalize_path
from modeldepot.metadata import (
    check_description,
    check_key,
    check_metrics,
    check_params,
    check_tag_value,
    check_tags,
)
from modeldepot.refs import Ref, parse_ref, validate_alias, validate_name
from modeldepot.registry.aliases import move_alias
from modeldepot.registry.commit import claim_blobs, ensure_model
from modeldepot.registry.lineage import lineage_document, record_lineage
from modeldepot.registry.lookup import (
    VERSION_ROW,
    model_row,
    resolve_row,
    to_version_read,
    to_version_reads,
    version_row,
)
from modeldepot.registry.models import card_read
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.textindex import index_new_version, index_version, version_body
from modeldepot.registry.unit import Change, UnitOfWork, Units
from modeldepot.schemas import CardRead, FileEntry, ManifestRead, Page, VersionCreate, VersionRead
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

BATCH = 500


class VersionService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def create_version(
        self, ctx: Context, name: str, data: VersionCreate
    ) -> tuple[VersionRead, bool]:
        """Commit a version of ``name`` (created if new); return it and whether it is new.

        Raises ManifestInvalid (and subclasses) for bad files, BlobNotFound listing blobs
        not uploaded (``missing``), SizeMismatch if a blob's size differs from the
        manifest, ModelDeleted if the model is deleted. With a ``push_id`` seen before
        for this model, returns that version unchanged. The aliases in ``data.aliases``
        are pointed at the new version in the same transaction: the push and its alias
        moves land together or not at all.
        """
        validate_name(name)
        for alias in data.aliases:
            validate_alias(alias)
        manifest = Manifest.build(f.to_entry() for f in data.files)
        description = check_description(data.description)
        tags = check_tags(data.tags)
        params = check_params(data.params)
        metrics = check_metrics(data.metrics)
        recorded = lineage_document(data.lineage)
        card = parse_card(data.card) if data.card is not None else None
        with self.units.db.queue(name), self.units.write(ctx) as uow:
            uow.require(Permission.VERSION_CREATE, name)
            if data.aliases:
                uow.require(Permission.ALIAS_MOVE, name)
            conn = uow.conn
            model_id, pushed = ensure_model(uow, name, data.push_id or None)
            if pushed is not None:
                return _reload(conn, name, pushed), False
            now = uow.now
            claim_blobs(conn, manifest, ctx.access)
            values: dict[str, Any] = {
                "model_id": model_id,
                "digest": manifest.digest,
                "description": description,
                "total_size": manifest.total_size,
                "file_count": len(manifest.entries),
                "created_at": now,
                "created_by": ctx.name,
                "updated_at": now,
                "updated_by": ctx.name,
                "push_id": data.push_id,
                "format": recorded.format,
                "card_completeness": card.completeness if card else None,
            }
            version_id, number = hotpath.insert_version(
                conn, {**values, "lineage": recorded.document, "card": data.card}
            )
            files = [
                {
                    "version_id": version_id,
                    "path": e.path,
                    "size": e.size,
                    "digest": e.digest,
                    "media_type": e.media_type,
                }
                for e in manifest.entries
            ]
            for batch in _batches(files):
                hotpath.insert_rows(conn, version_files, batch)
            _insert_pairs(conn, version_tags, version_id, tags)
            _insert_pairs(conn, version_params, version_id, params)
            learned = record_lineage(uow, version_id, data.lineage, metrics, params)
            metrics = learned.metrics
            # As late as it can be: pushes to this model wait for it (see hotpath).
            number = hotpath.number_version(conn, version_id, values, number)
            values["number"] = number
            uow.record(
                "version.create",
                f"{name}:{number}",
                model=name,
                after={
                    "number": number,
                    "digest": manifest.digest,
                    "total_size": manifest.total_size,
                    "file_count": len(manifest.entries),
                },
                model_id=model_id,
                version_id=version_id,
                body=version_body(
                    name, description, recorded.format, tags, learned.datasets, data.card
                ),
            )
            for alias in data.aliases:
                move_alias(uow, name, alias, number)
            failpoints.reach("commit.before_db_commit")
        # Everything the new version holds was written just now: no need to read it back.
        version = VersionRead(
            model=name,
            **{k: v for k, v in values.items() if k not in ("model_id", "push_id")},
            tags=tags,
            params=params,
            metrics=metrics,
            aliases=sorted(set(data.aliases)),
        )
        return version, True

    def resolve(
        self,
        ctx: Context,
        ref: Ref | str,
        *,
        include_deleted: bool = False,
        at: datetime | None = None,
    ) -> VersionRead:
        """The version a reference names. Aliases and ``latest`` never yield deleted versions.

        With ``at``, the version the reference named at that instant (see ``resolve_row``).
        """
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, ref.name)
            conn = reading.conn
            model, row = resolve_row(conn, ref, include_deleted=include_deleted, at=at)
            return to_version_read(conn, model.name, row)

    def get_version(
        self, ctx: Context, name: str, number: int, *, include_deleted: bool = False
    ) -> VersionRead:
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            conn = reading.conn
            model = model_row(conn, name)
            return to_version_read(
                conn, name, version_row(conn, model, number, include_deleted=include_deleted)
            )

    def list_versions(
        self,
        ctx: Context,
        name: str,
        *,
        include_deleted: bool = False,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[VersionRead]:
        """Versions of ``name``, newest first."""
        limit = check_limit(limit)
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            conn = reading.conn
            model = model_row(conn, name)
            query = (
                select(*VERSION_ROW)
                .where(versions.c.model_id == model.id)
                .order_by(versions.c.number.desc())
                .limit(limit + 1)
            )
            if not include_deleted:
                query = query.where(versions.c.deleted_at.is_(None))
            if cursor:
                (before,) = decode_cursor(cursor, int)
                query = query.where(versions.c.number < before)
            rows = conn.execute(query).all()
            items = to_version_reads(conn, name, rows[:limit])
        next_cursor = encode_cursor(rows[limit - 1].number) if len(rows) > limit else None
        return Page[VersionRead](items=items, next_cursor=next_cursor)

    def get_card(self, ctx: Context, name: str, number: int) -> CardRead:
        """The version's own card (the model's card is separate)."""
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            conn = reading.conn
            row = version_row(conn, model_row(conn, name), number, include_deleted=True)
            text = conn.execute(select(versions.c.card).where(versions.c.id == row.id)).scalar()
        return card_read(text)

    def get_manifest(
        self,
        ctx: Context,
        ref: Ref | str,
        *,
        include_deleted: bool = False,
        allow_revoked: bool = False,
    ) -> ManifestRead:
        """The files of the version ``ref`` names: what a pull fetches. A revoked
        version's are refused (VersionRevoked) unless ``allow_revoked``."""
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, ref.name)
            conn = reading.conn
            model, row = resolve_row(conn, ref, include_deleted=include_deleted)
            if row.status == "revoked" and not allow_revoked:
                raise _revoked(model.name, row)
            files = [
                FileEntry(path=f.path, size=f.size, digest=f.digest, media_type=f.media_type)
                for f in conn.execute(
                    select(version_files)
                    .where(version_files.c.version_id == row.id)
                    .order_by(version_files.c.path)
                )
            ]
        return ManifestRead(
            model=model.name, number=row.number, digest=row.digest, schema=SCHEMA, files=files
        )

    def get_file(self, ctx: Context, ref: Ref | str, path: str) -> FileEntry:
        """The manifest entry at ``path`` of the version ``ref`` names."""
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        normalized = normalize_path(path)
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, ref.name)
            conn = reading.conn
            model, row = resolve_row(conn, ref, include_deleted=False)
            found = conn.execute(
                select(version_files).where(
                    version_files.c.version_id == row.id, version_files.c.path == normalized
                )
            ).first()
        if found is None:
            raise FileNotInVersion(f"{model.name}:{row.number} has no file {normalized!r}")
        return FileEntry(
            path=found.path, size=found.size, digest=found.digest, media_type=found.media_type
        )

    def delete_version(self, ctx: Context, name: str, number: int) -> VersionRead:
        """Soft-delete; refused (VersionInUse) while an alias points at the version."""
        with self.units.write(ctx) as uow:
            uow.require(Permission.DELETE, name)
            conn = uow.conn
            model = model_row(conn, name)
            row = version_row(conn, model, number)
            held = (
                conn.execute(select(aliases.c.name).where(aliases.c.version_id == row.id))
                .scalars()
                .all()
            )
            if held:
                raise VersionInUse(
                    f"{name}:{number} is pointed to by {', '.join(sorted(held))}; "
                    "move or remove those aliases first",
                    aliases=sorted(held),
                )
            conn.execute(
                update(versions)
                .where(versions.c.id == row.id)
                .values(
                    deleted_at=uow.now,
                    deleted_by=ctx.name,
                    updated_at=uow.now,
                    updated_by=ctx.name,
                )
            )
            uow.record(
                "version.delete", f"{name}:{number}", model=name, after={"digest": row.digest}
            )
            return _reload(conn, name, row.id)

    def restore_version(self, ctx: Context, name: str, number: int) -> VersionRead:
        with self.units.write(ctx) as uow:
            uow.require(Permission.DELETE, name)
            conn = uow.conn
            model = model_row(conn, name)
            row = version_row(conn, model, number, include_deleted=True)
            conn.execute(
                update(versions)
                .where(versions.c.id == row.id)
                .values(deleted_at=None, deleted_by=None, updated_at=uow.now, updated_by=ctx.name)
            )
            uow.record(
                "version.restore", f"{name}:{number}", model=name, after={"digest": row.digest}
            )
            return _reload(conn, name, row.id)

    def set_tag(self, ctx: Context, name: str, number: int, key: str, value: str) -> VersionRead:
        """Tags are the one mutable part of a version; its content never changes."""
        check_key("tag", key)
        check_tag_value(key, value)
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            conn = uow.conn
            row = version_row(conn, model_row(conn, name), number)
            old = conn.execute(
                select(version_tags.c.value).where(
                    version_tags.c.version_id == row.id, version_tags.c.key == key
                )
            ).scalar()
            if old is None:
                conn.execute(insert(version_tags).values(version_id=row.id, key=key, value=value))
            else:
                conn.execute(
                    update(version_tags)
                    .where(version_tags.c.version_id == row.id, version_tags.c.key == key)
                    .values(value=value)
                )
            _touch(uow, row.id)
            uow.record(
                "version.tag.set",
                f"{name}:{number}#{key}",
                model=name,
                before={key: old} if old is not None else None,
                after={key: value},
                version_id=row.id,
            )
            return _reload(conn, name, row.id)

    def delete_tag(self, ctx: Context, name: str, number: int, key: str) -> VersionRead:
        check_key("tag", key)
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            conn = uow.conn
            row = version_row(conn, model_row(conn, name), number)
            old = conn.execute(
                select(version_tags.c.value).where(
                    version_tags.c.version_id == row.id, version_tags.c.key == key
                )
            ).scalar()
            if old is None:
                raise TagNotFound(f"{name}:{number} has no tag {key!r}")
            conn.execute(
                delete(version_tags).where(
                    version_tags.c.version_id == row.id, version_tags.c.key == key
                )
            )
            _touch(uow, row.id)
            uow.record(
                "version.tag.delete",
                f"{name}:{number}#{key}",
                model=name,
                before={key: old},
                version_id=row.id,
            )
            return _reload(conn, name, row.id)


# Built once, so SQLAlchemy's compiled cache hits.
def _insert_pairs(conn: Connection, table: Any, version_id: int, pairs: dict[str, Any]) -> None:
    if pairs:
        rows = [{"version_id": version_id, "key": k, "value": v} for k, v in pairs.items()]
        hotpath.insert_rows(conn, table, rows)


def _touch(uow: UnitOfWork, version_id: int) -> None:
    uow.conn.execute(
        update(versions)
        .where(versions.c.id == version_id)
        .values(updated_at=uow.now, updated_by=uow.ctx.name)
    )


def index_new_version_change(uow: UnitOfWork, change: Change) -> None:
    """Subscriber of ``version.create``: the new version's search text."""
    facts = change.facts
    index_new_version(uow.conn, facts["model_id"], facts["version_id"], facts["body"])


def index_version_change(uow: UnitOfWork, change: Change) -> None:
    """Subscriber of version tag changes: the version's search text."""
    index_version(uow.conn, change.facts["version_id"])


def _reload(conn: Connection, name: str, version_id: int) -> VersionRead:
    return to_version_read(
        conn, name, conn.execute(select(*VERSION_ROW).where(versions.c.id == version_id)).one()
    )


def _revoked(name: str, row: Any) -> VersionRevoked:
    instead = f"; use {name}:{row.status_replacement}" if row.status_replacement else ""
    return VersionRevoked(
        f"{name}:{row.number} is revoked ({row.status_reason}){instead}; pull it anyway "
        "with --allow-revoked (SDK: allow_revoked=True)",
        model=name,
        number=row.number,
        reason=row.status_reason,
        replacement=row.status_replacement,
    )


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
