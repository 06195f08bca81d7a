"""Rows for search tests, inserted straight into the tables.

Each model and version also gets its ``search_documents`` row (its name and
description, or ``text``), which SQLite's FTS triggers and PostgreSQL's GIN index
follow. Creation times advance one minute per row from ``START`` unless given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from modeldepot.db.tables import (
    aliases,
    datasets,
    model_tags,
    models,
    search_documents,
    version_datasets,
    version_metrics,
    version_param_leaves,
    version_params,
    version_tags,
    versions,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
ACTOR = "seeder"


class Seed:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.clock = START
        self.numbers: dict[int, int] = {}

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def model(
        self,
        name: str,
        *,
        description: str = "",
        owner: str | None = None,
        risk: str | None = None,
        tags: Mapping[str, str] | None = None,
        created: datetime | None = None,
        deleted: bool = False,
        card_completeness: float | None = None,
        text: str | None = None,
    ) -> int:
        at = created or self.tick()
        model_id = self.conn.execute(
            insert(models)
            .values(
                name=name,
                description=description,
                owner=owner,
                risk_level=risk,
                card_completeness=card_completeness,
                created_at=at,
                created_by=ACTOR,
                updated_at=at,
                updated_by=ACTOR,
                deleted_at=at if deleted else None,
                deleted_by=ACTOR if deleted else None,
            )
            .returning(models.c.id)
        ).scalar_one()
        for key, value in (tags or {}).items():
            self.conn.execute(insert(model_tags).values(model_id=model_id, key=key, value=value))
        body = text if text is not None else f"{name} {description}"
        self.conn.execute(insert(search_documents).values(model_id=model_id, body=body))
        return int(model_id)

    def version(
        self,
        model_id: int,
        *,
        description: str = "",
        format: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        sliced_metrics: Mapping[tuple[str, str], float] | None = None,
        datasets_used: list[int] | None = None,
        created: datetime | None = None,
        deleted: bool = False,
        card_completeness: float | None = None,
        text: str | None = None,
    ) -> int:
        at = created or self.tick()
        number = self.numbers.get(model_id, 0) + 1
        self.numbers[model_id] = number
        version_id = self.conn.execute(
            insert(versions)
            .values(
                model_id=model_id,
                number=number,
                digest="sha256:" + f"{model_id:032x}{number:032x}",
                description=description,
                total_size=0,
                file_count=0,
                format=format,
                lineage={},
                card_completeness=card_completeness,
                created_at=at,
                created_by=ACTOR,
                updated_at=at,
                updated_by=ACTOR,
                deleted_at=at if deleted else None,
                deleted_by=ACTOR if deleted else None,
            )
            .returning(versions.c.id)
        ).scalar_one()
        for key, value in (tags or {}).items():
            self.conn.execute(
                insert(version_tags).values(version_id=version_id, key=key, value=value)
            )
        for key, value in (params or {}).items():
            self.conn.execute(
                insert(version_params).values(version_id=version_id, key=key, value=value)
            )
        for path, value in leaves(params or {}):
            self.conn.execute(
                insert(version_param_leaves).values(version_id=version_id, **leaf(path, value))
            )
        metric_rows = {(key, ""): value for key, value in (metrics or {}).items()}
        metric_rows.update(sliced_metrics or {})
        for (key, slice_), value in metric_rows.items():
            self.conn.execute(
                insert(version_metrics).values(
                    version_id=version_id, key=key, slice=slice_, value=value
                )
            )
        for dataset_id in datasets_used or []:
            self.conn.execute(
                insert(version_datasets).values(
                    version_id=version_id, dataset_id=dataset_id, role="train"
                )
            )
        body = text if text is not None else description
        self.conn.execute(
            insert(search_documents).values(model_id=model_id, version_id=version_id, body=body)
        )
        return int(version_id)

    def dataset(self, uri: str, digest: str = "") -> int:
        return int(
            self.conn.execute(
                insert(datasets)
                .values(uri=uri, digest=digest, created_at=self.tick(), created_by=ACTOR)
                .returning(datasets.c.id)
            ).scalar_one()
        )

    def alias(self, model_id: int, name: str, version_id: int) -> None:
        at = self.tick()
        self.conn.execute(
            insert(aliases).values(
                model_id=model_id,
                name=name,
                version_id=version_id,
                created_at=at,
                created_by=ACTOR,
                updated_at=at,
                updated_by=ACTOR,
            )
        )


def leaves(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar of ``params`` under its dotted path (list items by index)."""
    for key, value in params.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, f"{path}.")
        elif isinstance(value, list):
            yield from leaves({str(i): item for i, item in enumerate(value)}, f"{path}.")
        else:
            yield path, value


def leaf(path: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"path": path, "kind": "boolean", "num": float(value), "text": str(value).lower()}
    if isinstance(value, int | float):
        return {"path": path, "kind": "number", "num": float(value), "text": None}
    return {"path": path, "kind": "string", "num": None, "text": value}
