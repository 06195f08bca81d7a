"""Comparing two versions, and walking the lineage graph around one.

Both read whole records of a handful of versions; neither scans the registry. Both
answer ModelNotFound for a version of a model the caller cannot read, and the graph
never steps onto such a version: each hop's query keeps only readable ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, select

from modeldepot.db.tables import (
    datasets,
    models,
    version_datasets,
    version_files,
    version_metrics,
    version_params,
    version_relations,
    version_tags,
    versions,
)
from modeldepot.errors import InvalidInput
from modeldepot.metadata import param_leaves
from modeldepot.refs import parse_ref
from modeldepot.registry.lookup import resolve_row
from modeldepot.registry.unit import Reading, Units
from modeldepot.schemas.compare import (
    DatasetChange,
    FileChange,
    GraphEdge,
    GraphNode,
    LineageGraph,
    ValueChange,
    VersionDiff,
)
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

MAX_GRAPH_DEPTH = 10
MAX_GRAPH_NODES = 2_000


class CompareService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def diff(self, ctx: Context, a: str, b: str) -> VersionDiff:
        """What differs between the versions ``a`` and ``b`` name (deleted ones included)."""
        with self.units.read(ctx) as reading:
            left = _Record.load(reading, a)
            right = _Record.load(reading, b)
        return VersionDiff(
            a=left.ref,
            b=right.ref,
            same_content=left.row.digest == right.row.digest,
            params=_changes(left.params, right.params),
            metrics=_changes(left.metrics, right.metrics),
            tags=_changes(left.tags, right.tags),
            datasets=[
                DatasetChange(change="removed", uri=u, digest=d, role=r)
                for u, d, r in sorted(left.datasets - right.datasets)
            ]
            + [
                DatasetChange(change="added", uri=u, digest=d, role=r)
                for u, d, r in sorted(right.datasets - left.datasets)
            ],
            packages=_changes(left.packages, right.packages),
            code=_changes(left.section("code"), right.section("code")),
            format=_changes(left.section("format"), right.section("format")),
            files=_file_changes(left.files, right.files),
        )

    def graph(self, ctx: Context, ref: str, *, depth: int = 3) -> LineageGraph:
        """Versions upstream and downstream of ``ref`` up to ``depth`` hops, with their
        datasets and code; capped at MAX_GRAPH_NODES versions. Only versions the caller
        may read are visited: a path through an unreadable one stops there."""
        if not 1 <= depth <= MAX_GRAPH_DEPTH:
            raise InvalidInput(f"depth must be between 1 and {MAX_GRAPH_DEPTH}")
        parsed = parse_ref(ref)
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, parsed.name)
            conn = reading.conn
            _, root = resolve_row(conn, parsed, include_deleted=True)
            edges: set[tuple[int, int, str]] = set()
            seen = {root.id}
            for upstream in (True, False):
                column = (
                    version_relations.c.version_id if upstream else version_relations.c.target_id
                )
                other = (
                    version_relations.c.target_id if upstream else version_relations.c.version_id
                )
                frontier = {root.id}
                for _ in range(depth):
                    if not frontier or len(seen) >= MAX_GRAPH_NODES:
                        break
                    found = conn.execute(
                        select(
                            version_relations.c.version_id,
                            version_relations.c.target_id,
                            version_relations.c.kind,
                        )
                        .join(versions, versions.c.id == other)
                        .join(models, models.c.id == versions.c.model_id)
                        .where(column.in_(frontier), reading.access.readable(models.c.name))
                    ).all()
                    edges.update((s, t, k) for s, t, k in found)
                    nexts = {
                        t if column is version_relations.c.version_id else s for s, t, _ in found
                    }
                    frontier = nexts - seen
                    seen |= frontier
            return _build_graph(conn, root.id, seen, edges)


def _build_graph(
    conn: Connection, root_id: int, ids: set[int], relations: set[tuple[int, int, str]]
) -> LineageGraph:
    nodes: dict[str, GraphNode] = {}
    edges: list[GraphEdge] = []
    key_of: dict[int, str] = {}
    for row in conn.execute(
        select(
            versions.c.id,
            versions.c.number,
            versions.c.digest,
            versions.c.format,
            versions.c.lineage,
            versions.c.deleted_at,
            models.c.name,
        )
        .join(models, models.c.id == versions.c.model_id)
        .where(versions.c.id.in_(ids))
    ):
        key = f"version:{row.name}:{row.number}"
        key_of[row.id] = key
        nodes[key] = GraphNode(
            id=key,
            kind="version",
            label=f"{row.name}:{row.number}",
            attributes={
                "digest": row.digest,
                "format": row.format,
                "deleted": row.deleted_at is not None,
            },
        )
        code = (row.lineage or {}).get("code")
        if code and code.get("repository") and code.get("commit"):
            code_key = f"code:{code['repository']}@{code['commit']}"
            nodes.setdefault(
                code_key,
                GraphNode(
                    id=code_key,
                    kind="code",
                    label=f"{code['repository']}@{code['commit'][:12]}",
                    attributes=code,
                ),
            )
            edges.append(GraphEdge(source=key, target=code_key, kind="built_from"))
    for source, target, kind in sorted(relations):
        if source in key_of and target in key_of:
            edges.append(GraphEdge(source=key_of[source], target=key_of[target], kind=kind))
    for version_id, role, row in _datasets_of(conn, ids):
        data_key = f"dataset:{row.id}"
        nodes.setdefault(
            data_key,
            GraphNode(
                id=data_key,
                kind="dataset",
                label=row.name or row.uri,
                attributes={
                    "uri": row.uri,
                    "digest": row.digest,
                    "personal_data": row.personal_data,
                },
            ),
        )
        edges.append(GraphEdge(source=key_of[version_id], target=data_key, kind=f"uses:{role}"))
    return LineageGraph(root=key_of[root_id], nodes=list(nodes.values()), edges=edges)


def _datasets_of(conn: Connection, ids: set[int]) -> list[tuple[int, str, Row[Any]]]:
    rows = conn.execute(
        select(version_datasets.c.version_id, version_datasets.c.role, datasets)
        .join(datasets, datasets.c.id == version_datasets.c.dataset_id)
        .where(version_datasets.c.version_id.in_(ids))
        .order_by(version_datasets.c.version_id, datasets.c.id, version_datasets.c.role)
    ).all()
    return [(r.version_id, r.role, r) for r in rows]


class _Record:
    """Everything of one version a diff compares."""

    def __init__(self, conn: Connection, name: str, row: Row[Any]) -> None:
        vid = row.id
        self.row = row
        self.ref = f"{name}:{row.number}"
        self.lineage: dict[str, Any] = (
            conn.execute(select(versions.c.lineage).where(versions.c.id == vid)).scalar() or {}
        )
        self.params = dict(
            param_leaves(
                dict(
                    conn.execute(
                        select(version_params.c.key, version_params.c.value).where(
                            version_params.c.version_id == vid
                        )
                    ).all()
                )
            )
        )
        self.metrics = dict(
            conn.execute(
                select(version_metrics.c.key, version_metrics.c.value).where(
                    version_metrics.c.version_id == vid, version_metrics.c.slice == ""
                )
            ).all()
        )
        self.tags = dict(
            conn.execute(
                select(version_tags.c.key, version_tags.c.value).where(
                    version_tags.c.version_id == vid
                )
            ).all()
        )
        self.datasets = {
            (r.uri, r.digest, r.role)
            for r in conn.execute(
                select(datasets.c.uri, datasets.c.digest, version_datasets.c.role)
                .join(version_datasets, version_datasets.c.dataset_id == datasets.c.id)
                .where(version_datasets.c.version_id == vid)
            )
        }
        self.packages: dict[str, Any] = dict(
            (self.lineage.get("environment") or {}).get("packages") or {}
        )
        self.files = {
            r.path: (r.digest, r.size)
            for r in conn.execute(
                select(version_files.c.path, version_files.c.digest, version_files.c.size).where(
                    version_files.c.version_id == vid
                )
            )
        }

    @classmethod
    def load(cls, reading: Reading, ref: str) -> _Record:
        """The record of the version ``ref`` names; ModelNotFound if unreadable."""
        parsed = parse_ref(ref)
        reading.require(Permission.MODEL_READ, parsed.name)
        model, row = resolve_row(reading.conn, parsed, include_deleted=True)
        return cls(reading.conn, model.name, row)

    def section(self, key: str) -> dict[str, Any]:
        return dict(self.lineage.get(key) or {})


def _changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ValueChange]:
    """Keys whose values differ, in type too: ``True`` → ``1`` and ``1`` → ``"1"`` count."""
    return [
        ValueChange(key=key, a=a.get(key), b=b.get(key))
        for key in sorted(a.keys() | b.keys())
        if (key in a) != (key in b) or not _same(a[key], b[key])
    ]


def _same(x: Any, y: Any) -> bool:
    return type(x) is type(y) and x == y


def _file_changes(
    a: Mapping[str, tuple[str, int]], b: Mapping[str, tuple[str, int]]
) -> list[FileChange]:
    out = []
    for path in sorted(a.keys() | b.keys()):
        left, right = a.get(path), b.get(path)
        if left == right:
            continue
        change = "added" if left is None else "removed" if right is None else "changed"
        out.append(
            FileChange(
                path=path,
                change=change,
                a_digest=left[0] if left else None,
                b_digest=right[0] if right else None,
                a_size=left[1] if left else None,
                b_size=right[1] if right else None,
            )
        )
    return out
