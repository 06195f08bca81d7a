"""The record policy rules see: one JSON document per version (docs/policies.md).

Rules are CEL expressions over this document, so its shape is a contract: fields are
added, never renamed. Every field is always present (empty, ``""``, ``0`` or ``false``
when nothing was recorded), so that a rule reading an unrecorded fact fails on its
value rather than on a missing key; the free-form maps (tags, params, metrics, slices,
packages) hold only what was recorded. Shape::

    model:   name, description, owner, risk, tags{}, card{}
    version: number, digest, format, status, created_by, created_at, tags{}, params{},
             metrics{name: value}, slices{metric: {slice: value}},
             metric_slices[{metric, slice, value, dataset}], aliases[],
             card{present, completeness, sections[], missing[], metadata{}},
             code{present, repository, commit, branch, dirty, entry_point},
             environment{python, implementation, platform, accelerator,
                         container_image, packages{}},
             datasets[{name, uri, digest, role, size, personal_data,
                       metrics{}, slices{}}],
             personal_data, derived_from[], depends_on[]
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from modeldepot.cards import KNOWN_SECTIONS, parse_card
from modeldepot.db.tables import (
    aliases,
    datasets,
    model_tags,
    models,
    version_datasets,
    version_metrics,
    version_params,
    version_relations,
    version_tags,
    versions,
)
from modeldepot.errors import CardInvalid, VersionNotFound

ENVIRONMENT_KEYS = ("python", "implementation", "platform", "accelerator", "container_image")
CODE_KEYS = ("repository", "commit", "branch", "entry_point")


def version_record(conn: Connection, model_id: int, version_id: int) -> dict[str, Any]:
    """The record of version ``version_id`` of model ``model_id`` (VersionNotFound if
    the version is not the model's)."""
    model = conn.execute(select(models).where(models.c.id == model_id)).first()
    version = conn.execute(
        select(versions).where(versions.c.id == version_id, versions.c.model_id == model_id)
    ).first()
    if model is None or version is None:
        raise VersionNotFound(f"no version {version_id} of model {model_id}")
    lineage = version.lineage or {}
    metrics, slices, metric_slices, by_dataset = _metrics(conn, version_id)
    uses = _datasets(conn, version_id, by_dataset)
    return {
        "model": {
            "name": model.name,
            "description": model.description or "",
            "owner": model.owner or "",
            "risk": model.risk_level or "",
            "tags": _pairs(conn, model_tags, model_tags.c.model_id, model_id),
            "card": _card(model.card, model.card_completeness),
        },
        "version": {
            "number": version.number,
            "digest": version.digest,
            "format": version.format or "",
            "status": version.status or "active",
            "created_by": version.created_by,
            "created_at": version.created_at.isoformat(),
            "tags": _pairs(conn, version_tags, version_tags.c.version_id, version_id),
            "params": dict(
                conn.execute(
                    select(version_params.c.key, version_params.c.value).where(
                        version_params.c.version_id == version_id
                    )
                ).all()
            ),
            "metrics": metrics,
            "slices": slices,
            "metric_slices": metric_slices,
            "aliases": sorted(
                conn.execute(
                    select(aliases.c.name).where(
                        aliases.c.model_id == model_id, aliases.c.version_id == version_id
                    )
                ).scalars()
            ),
            "card": _card(
                version.card if version.card is not None else model.card,
                version.card_completeness if version.card is not None else model.card_completeness,
            ),
            "code": _code(lineage.get("code")),
            "environment": _environment(lineage.get("environment")),
            "datasets": uses,
            "personal_data": any(use["personal_data"] for use in uses),
            **_relations(conn, version_id),
        },
    }


def _pairs(conn: Connection, table: Any, column: Any, key: int) -> dict[str, str]:
    return dict(conn.execute(select(table.c.key, table.c.value).where(column == key)).all())


MetricParts = tuple[
    dict[str, float],
    dict[str, dict[str, float]],
    list[dict[str, Any]],
    dict[int, list[tuple[str, str, float]]],
]


def _metrics(conn: Connection, version_id: int) -> MetricParts:
    """Headline metrics, slices by metric, every row as a list, and rows by dataset."""
    rows = conn.execute(
        select(
            version_metrics.c.key,
            version_metrics.c.slice,
            version_metrics.c.value,
            version_metrics.c.dataset_id,
            datasets.c.uri,
        )
        .outerjoin(datasets, datasets.c.id == version_metrics.c.dataset_id)
        .where(version_metrics.c.version_id == version_id)
        .order_by(version_metrics.c.key, version_metrics.c.slice)
    ).all()
    metrics: dict[str, float] = {}
    slices: dict[str, dict[str, float]] = defaultdict(dict)
    listed: list[dict[str, Any]] = []
    by_dataset: dict[int, list[tuple[str, str, float]]] = defaultdict(list)
    for key, slice_, value, dataset_id, uri in rows:
        if slice_ == "":
            metrics[key] = value
        else:
            slices[key][slice_] = value
        listed.append({"metric": key, "slice": slice_, "value": value, "dataset": uri or ""})
        if dataset_id is not None:
            by_dataset[dataset_id].append((key, slice_, value))
    return metrics, dict(slices), listed, by_dataset


def _datasets(
    conn: Connection, version_id: int, by_dataset: dict[int, list[tuple[str, str, float]]]
) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(datasets, version_datasets.c.role)
        .join(version_datasets, version_datasets.c.dataset_id == datasets.c.id)
        .where(version_datasets.c.version_id == version_id)
        .order_by(version_datasets.c.role, datasets.c.uri)
    ).all()
    out = []
    for row in rows:
        metrics: dict[str, float] = {}
        slices: dict[str, dict[str, float]] = defaultdict(dict)
        for key, slice_, value in by_dataset.get(row.id, ()):
            if slice_ == "":
                metrics[key] = value
            else:
                slices[key][slice_] = value
        out.append(
            {
                "name": row.name or "",
                "uri": row.uri,
                "digest": row.digest or "",
                "role": row.role,
                "size": row.size if row.size is not None else -1,
                "personal_data": bool(row.personal_data),
                "metrics": metrics,
                "slices": dict(slices),
            }
        )
    return out


def _card(text: str | None, completeness: float | None) -> dict[str, Any]:
    if text is None:
        return {
            "present": False,
            "completeness": 0.0,
            "sections": [],
            "missing": list(KNOWN_SECTIONS),
            "metadata": {},
        }
    try:
        card = parse_card(text)
    except CardInvalid:
        # Stored cards were parsed when set; a card the parser now refuses still counts
        # as present, with what was measured then.
        return {
            "present": True,
            "completeness": completeness or 0.0,
            "sections": [],
            "missing": list(KNOWN_SECTIONS),
            "metadata": {},
        }
    return {
        "present": True,
        "completeness": card.completeness,
        "sections": list(card.sections),
        "missing": card.missing,
        "metadata": card.front_matter,
    }


def _code(code: dict[str, Any] | None) -> dict[str, Any]:
    code = code or {}
    out: dict[str, Any] = {key: code.get(key) or "" for key in CODE_KEYS}
    out["dirty"] = bool(code.get("dirty", False))
    out["present"] = bool(code)
    return out


def _environment(environment: dict[str, Any] | None) -> dict[str, Any]:
    environment = environment or {}
    out: dict[str, Any] = {key: environment.get(key) or "" for key in ENVIRONMENT_KEYS}
    out["packages"] = dict(environment.get("packages") or {})
    return out


def _relations(conn: Connection, version_id: int) -> dict[str, list[str]]:
    rows = conn.execute(
        select(version_relations.c.kind, models.c.name, versions.c.number)
        .join(versions, versions.c.id == version_relations.c.target_id)
        .join(models, models.c.id == versions.c.model_id)
        .where(version_relations.c.version_id == version_id)
        .order_by(models.c.name, versions.c.number)
    ).all()
    out: dict[str, list[str]] = {"derived_from": [], "depends_on": []}
    for kind, name, number in rows:
        out.setdefault(kind, []).append(f"{name}:{number}")
    return out
