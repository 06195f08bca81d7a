"""Adding metrics to a version after its push: an evaluation run later (fairness per
slice, a new benchmark) records its results on the version it evaluated.

What is recorded stays: a metric already on the version (same name and slice) is
refused with ``METRIC_EXISTS``, never overwritten, so evidence a reviewer saw cannot
change under them. Open promotion requests on the version get a new revision
(``governance/followers.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from modeldepot.db.tables import datasets, version_datasets, version_metrics
from modeldepot.errors import MetadataTooLarge, MetricExists
from modeldepot.metadata import check_metrics
from modeldepot.registry.lineage import record_metric_rows
from modeldepot.registry.lookup import model_row, to_version_read, version_row
from modeldepot.registry.unit import Units
from modeldepot.schemas import VersionRead
from modeldepot.schemas.lineage import MetricSlice
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

MAX_ADDED = 1000


class MetricService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def add_metrics(
        self,
        ctx: Context,
        name: str,
        number: int,
        metrics: Mapping[str, float],
        slices: Sequence[MetricSlice] = (),
    ) -> VersionRead:
        """Record headline ``metrics`` and per-slice or per-dataset ``slices``."""
        headline = check_metrics(metrics)
        if len(headline) + len(slices) > MAX_ADDED:
            raise MetadataTooLarge(f"at most {MAX_ADDED} metrics at once")
        with self.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, name)
            conn = uow.conn
            model = model_row(conn, name)
            version = version_row(conn, model, number)
            existing = set(
                conn.execute(
                    select(version_metrics.c.key, version_metrics.c.slice).where(
                        version_metrics.c.version_id == version.id
                    )
                ).all()
            )
            adding = {(k, "") for k in headline} | {(s.name, s.slice) for s in slices}
            clash = sorted(adding & existing)
            if clash:
                raise MetricExists(
                    f"{name}:{number} already records "
                    + ", ".join(f"{k}[{s}]" if s else k for k, s in clash),
                    metrics=[list(c) for c in clash],
                )
            by_uri = dict(
                conn.execute(
                    select(datasets.c.uri, datasets.c.id)
                    .distinct()
                    .join(version_datasets, version_datasets.c.dataset_id == datasets.c.id)
                    .where(version_datasets.c.version_id == version.id)
                ).all()
            )
            record_metric_rows(conn, version.id, slices, headline, by_uri)
            uow.record(
                "version.metrics.add",
                f"{name}:{number}",
                model=name,
                after={
                    "metrics": headline,
                    "slices": [s.model_dump(mode="json") for s in slices],
                },
                version_id=version.id,
                model_id=model.id,
            )
            return to_version_read(conn, name, version)
