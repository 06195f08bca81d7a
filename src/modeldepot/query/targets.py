"""The two things one can search, models and versions: their fields and sort keys.

This module is the one place that says what each field name means; the reference in
docs/query-language.md lists the same names (a test keeps them in step).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, and_, case, exists

from modeldepot.db.tables import (
    aliases,
    datasets,
    model_tags,
    models,
    search_documents,
    version_datasets,
    version_metrics,
    version_param_leaves,
    version_tags,
    versions,
)
from modeldepot.errors import QueryFieldUnknown
from modeldepot.query.fields import Dataset, FieldSpec, Param, Scope, Typed, in_rows, on_row
from modeldepot.query.nodes import Field
from modeldepot.query.sort import Sort, SortKey
from modeldepot.query.values import RISK_RANK, ValueType

TEXT, NUMBER, TIMESTAMP, RISK = (
    ValueType.TEXT,
    ValueType.NUMBER,
    ValueType.TIMESTAMP,
    ValueType.RISK,
)
KEY_NAMES = {"tags": "KEY", "metrics": "KEY", "params": "PATH"}


@dataclass(frozen=True)
class Target:
    """What a search returns (``ids`` of ``source`` rows) and the names it understands."""

    name: str  # "model" or "version", singular, for messages and cursors
    id: ColumnElement[int]
    source: FromClause
    live: ColumnElement[bool]  # rows a search without include_deleted may return
    fields: Mapping[str, FieldSpec]
    keyed: Mapping[str, Callable[[str], FieldSpec]]  # "tags" -> field of tags.KEY
    documents: Scope  # the row's search_documents row
    sorts: Mapping[str, SortKey]
    keyed_sorts: Mapping[str, Callable[[str], SortKey]]
    default_sort: str

    def field(self, node: Field) -> FieldSpec:
        """The field ``node`` names; QueryFieldUnknown, listing the valid names, if none."""
        if node.key is not None and node.name in self.keyed:
            return self.keyed[node.name](node.key)
        if node.key is None and node.name in self.fields:
            return self.fields[node.name]
        raise QueryFieldUnknown(
            f"unknown field '{node}' at position {node.position}; "
            f"{self.name} fields are: {', '.join(self.field_names())}",
            position=node.position,
            field=str(node),
        )

    def field_names(self) -> list[str]:
        """Plain fields, then keyed ones (``tags.KEY``), each alphabetically."""
        return sorted(self.fields) + sorted(f"{k}.{KEY_NAMES[k]}" for k in self.keyed)

    def sort(self, spec: str | None) -> Sort:
        """The sort ``spec`` names (``-`` first for descending); QueryFieldUnknown if none."""
        spec = (spec or self.default_sort).strip()
        descending = spec.startswith("-")
        name = spec.removeprefix("-")
        prefix, dot, key = name.partition(".")
        if name in self.sorts:
            return Sort(spec, self.sorts[name], descending)
        if dot and key and key.isprintable() and prefix in self.keyed_sorts:
            return Sort(spec, self.keyed_sorts[prefix](key), descending)
        raise QueryFieldUnknown(
            f"cannot sort {self.name}s by {name!r}; sort by one of: "
            f"{', '.join(self.sort_names())}, with '-' first for descending order",
            sort=spec,
        )

    def sort_names(self) -> list[str]:
        return sorted(self.sorts) + sorted(f"{k}.{KEY_NAMES[k]}" for k in self.keyed_sorts)


def _model_tag(key: str) -> FieldSpec:
    tags = model_tags.c
    return Typed(
        TEXT, tags.value, in_rows(model_tags, models, tags.model_id == models.c.id, tags.key == key)
    )


_RISK_ORDER = case(RISK_RANK, value=models.c.risk_level)  # NULL when no level is set

MODELS = Target(
    name="model",
    id=models.c.id,
    source=models,
    live=models.c.deleted_at.is_(None),
    fields={
        "name": Typed(TEXT, models.c.name, on_row(models.c.name)),
        "description": Typed(TEXT, models.c.description, on_row(models.c.description)),
        "owner": Typed(TEXT, models.c.owner, on_row(models.c.owner, nullable=True)),
        "risk": Typed(RISK, models.c.risk_level, on_row(models.c.risk_level, nullable=True)),
        "created": Typed(TIMESTAMP, models.c.created_at, on_row(models.c.created_at)),
        "updated": Typed(TIMESTAMP, models.c.updated_at, on_row(models.c.updated_at)),
        "created_by": Typed(TEXT, models.c.created_by, on_row(models.c.created_by)),
        "card_completeness": Typed(
            NUMBER,
            models.c.card_completeness,
            on_row(models.c.card_completeness, nullable=True),
        ),
        "alias": Typed(
            TEXT, aliases.c.name, in_rows(aliases, models, aliases.c.model_id == models.c.id)
        ),
        "format": Typed(
            TEXT,
            versions.c.format,
            in_rows(
                versions,
                models,
                versions.c.model_id == models.c.id,
                versions.c.deleted_at.is_(None),
                versions.c.format.is_not(None),
            ),
        ),
    },
    keyed={"tags": _model_tag},
    documents=in_rows(
        search_documents,
        models,
        search_documents.c.model_id == models.c.id,
        search_documents.c.version_id.is_(None),
    ),
    sorts={
        "name": SortKey(models.c.name, TEXT),
        "created": SortKey(models.c.created_at, TIMESTAMP),
        "updated": SortKey(models.c.updated_at, TIMESTAMP),
        "risk": SortKey(_RISK_ORDER, NUMBER, nullable=True),
        "owner": SortKey(models.c.owner, TEXT, nullable=True),
        "created_by": SortKey(models.c.created_by, TEXT),
        "card_completeness": SortKey(models.c.card_completeness, NUMBER, nullable=True),
    },
    keyed_sorts={
        "tags": lambda key: _tag_sort(model_tags, model_tags.c.model_id, models.c.id, key)
    },
    default_sort="name",
)


def _version_tag(key: str) -> FieldSpec:
    tags = version_tags.c
    return Typed(
        TEXT,
        tags.value,
        in_rows(version_tags, versions, tags.version_id == versions.c.id, tags.key == key),
    )


def _version_metric(key: str) -> FieldSpec:
    metrics = version_metrics.c
    return Typed(
        NUMBER,
        metrics.value,
        in_rows(
            version_metrics,
            versions,
            metrics.version_id == versions.c.id,
            metrics.key == key,
            metrics.slice == "",
        ),
    )


def _version_param(path: str) -> FieldSpec:
    leaves = version_param_leaves.c
    return Param(
        in_rows(
            version_param_leaves, versions, leaves.version_id == versions.c.id, leaves.path == path
        )
    )


def _joined_sort(
    table: FromClause, on: ColumnElement[bool], value: ColumnElement[Any], kind: ValueType
) -> SortKey:
    """A sort on a value of ``table``, which holds at most one row per searched row."""
    return SortKey(
        value,
        kind,
        nullable=True,
        join=lambda src: src.outerjoin(table, on),
        inner=lambda src: src.join(table, on),
        missing=~exists().where(on),
    )


def _tag_sort(
    table: Table, owner: ColumnElement[int], row_id: ColumnElement[int], key: str
) -> SortKey:
    tag = table.alias("sort_tag")
    return _joined_sort(tag, and_(tag.c[owner.name] == row_id, tag.c.key == key), tag.c.value, TEXT)


def _metric_sort(key: str) -> SortKey:
    metric = version_metrics.alias("sort_metric")
    on = and_(metric.c.version_id == versions.c.id, metric.c.key == key, metric.c.slice == "")
    return _joined_sort(metric, on, metric.c.value, NUMBER)


def _param_sort(path: str) -> SortKey:
    leaf = version_param_leaves.alias("sort_param")
    on = and_(leaf.c.version_id == versions.c.id, leaf.c.path == path, leaf.c.kind == "number")
    return _joined_sort(leaf, on, leaf.c.num, NUMBER)


_MODEL_NAME = Typed(TEXT, models.c.name, on_row(models.c.name))

VERSIONS = Target(
    name="version",
    id=versions.c.id,
    source=versions.join(models, models.c.id == versions.c.model_id),
    live=and_(versions.c.deleted_at.is_(None), models.c.deleted_at.is_(None)),
    fields={
        "name": _MODEL_NAME,
        "model": _MODEL_NAME,
        "number": Typed(NUMBER, versions.c.number, on_row(versions.c.number)),
        "digest": Typed(TEXT, versions.c.digest, on_row(versions.c.digest)),
        "description": Typed(TEXT, versions.c.description, on_row(versions.c.description)),
        "created": Typed(TIMESTAMP, versions.c.created_at, on_row(versions.c.created_at)),
        "created_by": Typed(TEXT, versions.c.created_by, on_row(versions.c.created_by)),
        "owner": Typed(TEXT, models.c.owner, on_row(models.c.owner, nullable=True)),
        "risk": Typed(RISK, models.c.risk_level, on_row(models.c.risk_level, nullable=True)),
        "format": Typed(TEXT, versions.c.format, on_row(versions.c.format, nullable=True)),
        "card_completeness": Typed(
            NUMBER,
            versions.c.card_completeness,
            on_row(versions.c.card_completeness, nullable=True),
        ),
        "alias": Typed(
            TEXT, aliases.c.name, in_rows(aliases, versions, aliases.c.version_id == versions.c.id)
        ),
        "dataset": Dataset(
            in_rows(
                version_datasets.join(datasets, datasets.c.id == version_datasets.c.dataset_id),
                versions,
                version_datasets.c.version_id == versions.c.id,
            )
        ),
    },
    keyed={"tags": _version_tag, "params": _version_param, "metrics": _version_metric},
    documents=in_rows(search_documents, versions, search_documents.c.version_id == versions.c.id),
    sorts={
        "number": SortKey(versions.c.number, NUMBER),
        "created": SortKey(versions.c.created_at, TIMESTAMP),
        "name": SortKey(models.c.name, TEXT),
        "created_by": SortKey(versions.c.created_by, TEXT),
        "digest": SortKey(versions.c.digest, TEXT),
        "format": SortKey(versions.c.format, TEXT, nullable=True),
        "owner": SortKey(models.c.owner, TEXT, nullable=True),
        "risk": SortKey(_RISK_ORDER, NUMBER, nullable=True),
        "card_completeness": SortKey(versions.c.card_completeness, NUMBER, nullable=True),
    },
    keyed_sorts={
        "metrics": _metric_sort,
        "params": _param_sort,
        "tags": lambda key: _tag_sort(version_tags, version_tags.c.version_id, versions.c.id, key),
    },
    default_sort="-created",
)
