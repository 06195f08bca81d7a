"""Relations between versions, and reading a version's lineage as a caller sees it.

Relations are edges ``version --kind--> target`` (``derived_from``, ``depends_on``);
none may close a cycle. What a caller reads is limited to what it may read: an edge
whose other end is a version of a model it cannot read is left out inside the SQL,
and naming such a version as a target answers as if it did not exist.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, or_, select

from modeldepot.db.tables import (
    datasets,
    models,
    version_datasets,
    version_metrics,
    version_relations,
    versions,
)
from modeldepot.errors import LineageInvalid, ModeldepotError, RelationTargetNotFound
from modeldepot.refs import parse_ref
from modeldepot.registry.lookup import resolve_row
from modeldepot.schemas.lineage import DatasetUseRead, LineageRead, MetricSlice, RelationRead
from modeldepot.security.access import Access
from modeldepot.security.roles import Permission

MAX_ANCESTORS = 100_000  # versions a cycle check visits before refusing the relation


def target_id(conn: Connection, access: Access, ref: str) -> int:
    """The id of the live version ``ref`` names; RelationTargetNotFound if there is none
    or if ``access`` cannot read it (the two answer alike)."""
    try:
        parsed = parse_ref(ref)
        access.require(Permission.MODEL_READ, parsed.name)
        _, row = resolve_row(conn, parsed, include_deleted=False)
    except ModeldepotError as exc:
        if exc.code == "REFERENCE_INVALID" or exc.code == "NAME_INVALID":
            raise
        raise RelationTargetNotFound(f"related version {ref!r}: {exc.detail}", ref=ref) from None
    return int(row.id)


def version_ref(conn: Connection, version_id: int) -> str:
    """``model:number`` of a version, as the audit log names a relation's target."""
    row = conn.execute(
        select(models.c.name, versions.c.number)
        .join(models, models.c.id == versions.c.model_id)
        .where(versions.c.id == version_id)
    ).one()
    return f"{row.name}:{row.number}"


# Any constant: the key of the PostgreSQL advisory lock relation changes take.
_RELATIONS_LOCK = 0x6D6F64656C  # "model"


def lock_relations(conn: Connection) -> None:
    """Serialise relation changes until commit, so two concurrent additions cannot each
    pass the cycle check and together close a cycle. SQLite writers are serial already."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_RELATIONS_LOCK)))


def reaches(conn: Connection, start: int, goal: int) -> bool:
    """Whether following relations upstream from ``start`` arrives at ``goal``.

    Refuses (LineageInvalid) rather than guess when more than MAX_ANCESTORS versions
    lie upstream: a relation is only recorded once it is known not to close a cycle.
    """
    seen = {start}
    frontier = [start]
    while frontier:
        found: list[int] = []
        for begin in range(0, len(frontier), 500):
            found.extend(
                conn.execute(
                    select(version_relations.c.target_id).where(
                        version_relations.c.version_id.in_(frontier[begin : begin + 500])
                    )
                ).scalars()
            )
        frontier = []
        for target in found:
            if target == goal:
                return True
            if target not in seen:
                seen.add(target)
                frontier.append(target)
        if len(seen) > MAX_ANCESTORS:
            raise LineageInvalid(
                f"more than {MAX_ANCESTORS} versions lie upstream; cannot check for a cycle"
            )
    return False


def read_lineage(
    conn: Connection, access: Access, model: str, version_id: int, number: int
) -> LineageRead:
    """The lineage of one version, its relations limited to versions ``access`` reads."""
    document = conn.execute(select(versions.c.lineage).where(versions.c.id == version_id)).scalar()
    used = conn.execute(
        select(datasets, version_datasets.c.role)
        .join(version_datasets, version_datasets.c.dataset_id == datasets.c.id)
        .where(version_datasets.c.version_id == version_id)
        .order_by(version_datasets.c.role, datasets.c.uri)
    ).all()
    uri_of = {row.id: row.uri for row in used}
    slices = [
        MetricSlice(name=r.key, value=r.value, slice=r.slice, dataset=uri_of.get(r.dataset_id))
        for r in conn.execute(
            select(version_metrics)
            .where(
                version_metrics.c.version_id == version_id,
                or_(version_metrics.c.slice != "", version_metrics.c.dataset_id.is_not(None)),
            )
            .order_by(version_metrics.c.key, version_metrics.c.slice)
        )
    ]
    relations = relations_of(conn, access, [version_id])
    return LineageRead(
        model=model,
        number=number,
        **(document or {}),
        datasets=[
            DatasetUseRead(
                id=r.id,
                uri=r.uri,
                digest=r.digest,
                name=r.name,
                size=r.size,
                personal_data=r.personal_data,
                role=r.role,
            )
            for r in used
        ],
        metric_slices=slices,
        derived_from=relations["derived_from"],
        depends_on=relations["depends_on"],
        used_by=relations["used_by"],
    )


def relations_of(
    conn: Connection, access: Access, version_ids: list[int]
) -> dict[str, list[RelationRead]]:
    """Upstream relations by kind, and ``used_by``: versions naming these ones; only
    those whose other end ``access`` may read."""
    target = versions.alias("target")
    out: dict[str, list[RelationRead]] = {"derived_from": [], "depends_on": [], "used_by": []}
    up = conn.execute(
        select(version_relations.c.kind, models.c.name, target.c.number, target.c.deleted_at)
        .join(target, target.c.id == version_relations.c.target_id)
        .join(models, models.c.id == target.c.model_id)
        .where(version_relations.c.version_id.in_(version_ids), access.readable(models.c.name))
        .order_by(models.c.name, target.c.number)
    )
    for kind, name, number, deleted_at in up:
        out[kind].append(
            RelationRead(kind=kind, model=name, number=number, deleted=deleted_at is not None)
        )
    source = versions.alias("source")
    down = conn.execute(
        select(version_relations.c.kind, models.c.name, source.c.number, source.c.deleted_at)
        .join(source, source.c.id == version_relations.c.version_id)
        .join(models, models.c.id == source.c.model_id)
        .where(
            and_(
                version_relations.c.target_id.in_(version_ids),
                version_relations.c.version_id.not_in(version_ids),
                access.readable(models.c.name),
            )
        )
        .order_by(models.c.name, source.c.number)
    )
    for kind, name, number, deleted_at in down:
        out["used_by"].append(
            RelationRead(kind=kind, model=name, number=number, deleted=deleted_at is not None)
        )
    return out
