"""Lineage: what a version was made from, recorded with it, and the relations between versions.

``record_lineage`` runs inside the unit of work of ``create_version``: datasets,
sliced metrics, relations, typed param leaves and the lineage document land with the
version or not at all. Relations can be added later; none may close a cycle.

What a caller reads of lineage is limited to what it may read: a relation to or from a
version of a model it cannot read is left out (in the SQL), and naming such a version
as a relation's target answers as if it did not exist (``registry/relations.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from modeldepot.db import hotpath
from modeldepot.db.engine import upsert
from modeldepot.db.tables import (
    PARAM_INDEX_TEXT,
    datasets,
    version_datasets,
    version_metrics,
    version_param_leaves,
    version_relations,
)
from modeldepot.environment import requirements_text
from modeldepot.errors import (
    LineageInvalid,
    MetadataTooLarge,
    RelationCycle,
    RelationNotFound,
)
from modeldepot.metadata import check_key, param_leaves
from modeldepot.refs import parse_ref
from modeldepot.registry import relations
from modeldepot.registry.lookup import model_row, resolve_row, version_row
from modeldepot.registry.textindex import index_version
from modeldepot.registry.unit import UnitOfWork, Units
from modeldepot.schemas.lineage import (
    LineageRead,
    LineageWrite,
    MetricSlice,
)
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

MAX_EXAMPLE_BYTES = 256 * 1024
MAX_PACKAGES = 5_000
MAX_NESTING = 64  # levels of lists and objects in examples and other documents


@dataclass(frozen=True)
class Recorded:
    """What ``record_lineage`` learned: the headline metrics, and (name, URI) of each
    dataset used, names as the registry knows them."""

    metrics: dict[str, float]
    datasets: list[tuple[str, str]]


@dataclass(frozen=True)
class RecordedLineage:
    format: str | None
    document: dict[str, Any]


def lineage_document(lineage: LineageWrite) -> RecordedLineage:
    """Check the parts stored whole and build the JSON document a version keeps."""
    doc: dict[str, Any] = {}
    if lineage.code is not None:
        doc["code"] = lineage.code.model_dump(exclude_none=True)
    if lineage.environment is not None:
        if len(lineage.environment.packages) > MAX_PACKAGES:
            raise MetadataTooLarge(f"environment lists more than {MAX_PACKAGES} packages")
        doc["environment"] = lineage.environment.model_dump(exclude_none=True)
    if lineage.format is not None:
        doc["format"] = lineage.format.model_dump(exclude_none=True)
    if lineage.signature is not None:
        doc["signature"] = lineage.signature.model_dump(exclude_none=True)
    for key in ("input_example", "output_example"):
        value = getattr(lineage, key)
        if value is None:
            continue
        _check_text(value)
        try:
            size = len(json.dumps(value, allow_nan=False))
        except ValueError:
            raise LineageInvalid(f"{key} must be JSON without NaN or infinity") from None
        if size > MAX_EXAMPLE_BYTES:
            raise MetadataTooLarge(f"{key} is larger than {MAX_EXAMPLE_BYTES // 1024} KiB")
        doc[key] = value
    _check_text(doc)
    # Datasets and slices are rows, not part of the document; they get the same check.
    _check_text([use.model_dump() for use in lineage.datasets])
    _check_text([[m.slice, m.dataset] for m in lineage.metric_slices])
    return RecordedLineage(lineage.format.name if lineage.format else None, doc)


def _check_text(document: Any) -> None:
    """No NUL anywhere (PostgreSQL JSON cannot hold one) and nesting within MAX_NESTING,
    so every stored document can be serialised again when it is read."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise MetadataTooLarge(f"lineage is nested deeper than {MAX_NESTING} levels")
        if isinstance(value, str):
            if "\x00" in value:
                raise LineageInvalid("lineage contains a NUL character")
        elif isinstance(value, dict):
            stack.extend((key, depth + 1) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def record_lineage(
    uow: UnitOfWork,
    version_id: int,
    lineage: LineageWrite,
    metrics: Mapping[str, float],
    params: Mapping[str, Any],
) -> Recorded:
    """Write the relational part of a new version's lineage, in the unit of work that
    commits the version (which has checked the permission to push).

    Its headline metrics are ``metrics`` plus the unsliced ``metric_slices``. A relation
    may only name a version the caller can read (else RelationTargetNotFound).
    """
    conn, now, by = uow.conn, uow.now, uow.ctx.name
    by_uri, names = _record_datasets(conn, version_id, lineage, by, now)
    headline = record_metric_rows(conn, version_id, lineage.metric_slices, metrics, by_uri)
    _record_param_leaves(conn, version_id, params)
    for kind, refs in (("derived_from", lineage.derived_from), ("depends_on", lineage.depends_on)):
        for target in {relations.target_id(conn, uow.ctx.access, ref) for ref in refs}:
            conn.execute(
                insert(version_relations).values(
                    version_id=version_id,
                    kind=kind,
                    target_id=target,
                    created_at=now,
                    created_by=by,
                )
            )
    return Recorded(headline, [(names[uri], uri) for uri in by_uri])


def _record_datasets(
    conn: Connection, version_id: int, lineage: LineageWrite, by: str, now: datetime
) -> tuple[dict[str, int], dict[str, str]]:
    """Upsert the datasets (shared records keyed by URI and digest); map URI → id, and
    URI → name."""
    by_uri: dict[str, int] = {}
    names: dict[str, str] = {}
    pairs: set[tuple[int, str]] = set()
    for use in lineage.datasets:
        same = and_(datasets.c.uri == use.uri, datasets.c.digest == use.digest)
        row = conn.execute(select(datasets).where(same)).first()
        if row is None:
            # Another push may record the same dataset at this moment: whichever
            # commits first creates it, the other waits and then uses that row.
            conn.execute(
                upsert(conn, datasets)
                .values(
                    uri=use.uri,
                    digest=use.digest,
                    name=use.name,
                    size=use.size,
                    personal_data=use.personal_data,
                    created_at=now,
                    created_by=by,
                )
                .on_conflict_do_nothing(index_elements=["uri", "digest"])
            )
            row = conn.execute(select(datasets).where(same)).one()
        dataset_id = row.id
        # A dataset once known to hold personal data keeps saying so; gaps are filled.
        changes: dict[str, Any] = {}
        if use.personal_data and not row.personal_data:
            changes["personal_data"] = True
        if use.name and not row.name:
            changes["name"] = use.name
        if use.size is not None and row.size is None:
            changes["size"] = use.size
        if changes:
            conn.execute(update(datasets).where(datasets.c.id == row.id).values(**changes))
        if "name" in changes:
            # Versions' search documents hold their datasets' names: refresh them. This
            # happens once per dataset, when its name is first learned.
            users = select(version_datasets.c.version_id).where(
                version_datasets.c.dataset_id == row.id
            )
            for earlier in conn.execute(users.distinct()).scalars():
                index_version(conn, earlier)
        names[use.uri] = changes.get("name", row.name)
        if by_uri.setdefault(use.uri, dataset_id) != dataset_id:
            raise LineageInvalid(f"dataset {use.uri!r} is listed with two different digests")
        pairs.add((dataset_id, use.role))
    if pairs:
        conn.execute(
            insert(version_datasets),
            [{"version_id": version_id, "dataset_id": d, "role": r} for d, r in sorted(pairs)],
        )
    return by_uri, names


def record_metric_rows(
    conn: Connection,
    version_id: int,
    slices: Iterable[MetricSlice],
    metrics: Mapping[str, float],
    by_uri: Mapping[str, int],
) -> dict[str, float]:
    rows: dict[tuple[str, str], dict[str, Any]] = {
        (key, ""): {"key": key, "slice": "", "value": value, "dataset_id": None}
        for key, value in metrics.items()
    }
    for entry in slices:
        check_key("metric", entry.name)
        if entry.value != entry.value or entry.value in (float("inf"), float("-inf")):
            raise LineageInvalid(f"metric {entry.name!r}: value must be finite")
        dataset_id = None
        if entry.dataset is not None:
            if entry.dataset not in by_uri:
                raise LineageInvalid(
                    f"metric {entry.name!r} names dataset {entry.dataset!r}, "
                    "which is not among the version's datasets"
                )
            dataset_id = by_uri[entry.dataset]
        key = (entry.name, entry.slice)
        known = rows.get(key)
        if known is not None and known["value"] != entry.value:
            where = f" on slice {entry.slice!r}" if entry.slice else ""
            raise LineageInvalid(f"metric {entry.name!r}{where} is given two different values")
        rows[key] = {
            "key": entry.name,
            "slice": entry.slice,
            "value": entry.value,
            "dataset_id": dataset_id,
        }
    if rows:
        hotpath.insert_rows(
            conn, version_metrics, [{"version_id": version_id, **row} for row in rows.values()]
        )
    return {key: row["value"] for (key, slice_), row in rows.items() if slice_ == ""}


def _record_param_leaves(conn: Connection, version_id: int, params: Mapping[str, Any]) -> None:
    leaves = []
    for path, value in param_leaves(params):
        if len(path) > 512:
            continue
        if isinstance(value, bool):
            leaf = ("boolean", float(value), "true" if value else "false")
        elif isinstance(value, int | float):
            leaf = ("number", float(value), None)
        elif len(value) <= PARAM_INDEX_TEXT:
            leaf = ("string", None, value)
        else:
            continue  # too long to index; still stored whole in version_params
        leaves.append(
            {
                "version_id": version_id,
                "path": path,
                "kind": leaf[0],
                "num": leaf[1],
                "text": leaf[2],
            }
        )
    for start in range(0, len(leaves), 500):
        hotpath.insert_rows(conn, version_param_leaves, leaves[start : start + 500])


class LineageService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def get_lineage(self, ctx: Context, ref: str) -> LineageRead:
        """The whole lineage of the version ``ref`` names (ModelNotFound if the caller
        cannot read its model); relations to unreadable versions are left out."""
        parsed = parse_ref(ref)
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, parsed.name)
            conn = reading.conn
            model, row = resolve_row(conn, parsed, include_deleted=True)
            return relations.read_lineage(conn, reading.access, model.name, row.id, row.number)

    def requirements(self, ctx: Context, ref: str) -> str:
        """A pip requirements file recreating the environment captured with ``ref``."""
        environment = self.get_lineage(ctx, ref).environment
        if environment is None:
            return "# no environment was captured for this version\n"
        return requirements_text(environment)

    def add_relation(
        self, ctx: Context, name: str, number: int, kind: str, target: str
    ) -> LineageRead:
        """Record that ``name:number`` ``kind`` ``target``; RelationCycle if that loops,
        RelationTargetNotFound if ``target`` is missing or unreadable. Records
        ``relation.create`` unless the relation was there already."""
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            conn = uow.conn
            relations.lock_relations(conn)
            row = version_row(conn, model_row(conn, name), number)
            target_id = relations.target_id(conn, ctx.access, target)
            if target_id == row.id or relations.reaches(conn, target_id, row.id):
                raise RelationCycle(
                    f"{name}:{number} {kind} {target} would make a cycle: {target} already "
                    f"comes from {name}:{number}",
                )
            exists = conn.execute(
                select(version_relations.c.version_id).where(
                    version_relations.c.version_id == row.id,
                    version_relations.c.kind == kind,
                    version_relations.c.target_id == target_id,
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(version_relations).values(
                        version_id=row.id,
                        kind=kind,
                        target_id=target_id,
                        created_at=uow.now,
                        created_by=uow.ctx.name,
                    )
                )
                uow.record(
                    "relation.create",
                    f"{name}:{number}",
                    model=name,
                    after={"kind": kind, "target": relations.version_ref(conn, target_id)},
                    version_id=row.id,
                    target_id=target_id,
                )
            return relations.read_lineage(conn, ctx.access, name, row.id, number)

    def remove_relation(
        self, ctx: Context, name: str, number: int, kind: str, target: str
    ) -> LineageRead:
        """Remove the relation ``name:number`` ``kind`` ``target`` (RelationNotFound if
        there is none); records ``relation.delete``."""
        parsed = parse_ref(target)
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            uow.require(Permission.MODEL_READ, parsed.name)
            conn = uow.conn
            row = version_row(conn, model_row(conn, name), number)
            _, target_row = resolve_row(conn, parsed, include_deleted=True)
            removed = conn.execute(
                delete(version_relations).where(
                    version_relations.c.version_id == row.id,
                    version_relations.c.kind == kind,
                    version_relations.c.target_id == target_row.id,
                )
            )
            if removed.rowcount == 0:
                raise RelationNotFound(f"{name}:{number} has no {kind} relation to {target}")
            uow.record(
                "relation.delete",
                f"{name}:{number}",
                model=name,
                before={"kind": kind, "target": relations.version_ref(conn, target_row.id)},
                version_id=row.id,
                target_id=target_row.id,
            )
            return relations.read_lineage(conn, ctx.access, name, row.id, number)
