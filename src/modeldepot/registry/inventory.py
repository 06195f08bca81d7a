"""InventoryService: every live model in one answer, and the pull records it counts.

The inventory is what a risk office asks for: owner, risk level, where each alias
points, the last change, datasets with personal data, dependencies between models and
who pulled which version how often. It is built with a fixed number of queries per
batch of models, never one per model, and holds only models the caller may read (and,
among their dependencies, only readable ones): filtered inside the SQL.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from modeldepot.db.tables import (
    alias_events,
    aliases,
    datasets,
    models,
    version_datasets,
    version_pulls,
    version_relations,
    versions,
)
from modeldepot.db.types import utcnow
from modeldepot.metadata import reject_nul
from modeldepot.registry.lookup import MODEL_ROW, model_row, version_row
from modeldepot.registry.unit import Units
from modeldepot.schemas.inventory import Inventory, InventoryEntry, PullCount
from modeldepot.security.access import Access
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

BATCH = 500


class InventoryService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def record_pull(self, ctx: Context, name: str, number: int) -> None:
        """Count one pull of ``name:number`` by the caller (the SDK calls it after a
        pull). Reading is all it needs, and it is a statistic, not a change of the
        registry: nothing goes to the audit log."""
        with self.units.write(ctx) as uow:
            uow.require(Permission.MODEL_READ, name)
            conn = uow.conn
            row = version_row(conn, model_row(conn, name), number)
            conn.execute(
                insert(version_pulls).values(version_id=row.id, at=uow.now, actor=uow.ctx.name)
            )

    def inventory(self, ctx: Context, *, prefix: str | None = None) -> Inventory:
        """Every live model the caller may read (under ``prefix`` if given), by name."""
        query = select(*MODEL_ROW).where(models.c.deleted_at.is_(None)).order_by(models.c.name)
        if prefix:
            reject_nul("prefix", prefix)
            query = query.where(models.c.name.startswith(prefix, autoescape=True))
        entries: list[InventoryEntry] = []
        with self.units.read(ctx) as reading:
            conn, access = reading.conn, reading.access
            rows = conn.execute(query.where(access.readable(models.c.name))).all()
            for batch in _batches(rows):
                entries.extend(_entries(conn, access, batch))
        return Inventory(generated_at=utcnow(), models=entries)

    def inventory_csv(self, ctx: Context, *, prefix: str | None = None) -> str:
        """The inventory as CSV text (a header row first)."""
        out = io.StringIO()
        csv.writer(out).writerows(_inventory_rows(self.inventory(ctx, prefix=prefix)))
        return out.getvalue()


def _batches(rows: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def _entries(conn: Connection, access: Access, rows: list[Any]) -> list[InventoryEntry]:
    ids = [r.id for r in rows]
    live = versions.c.deleted_at.is_(None)

    alias_map: dict[int, dict[str, int]] = defaultdict(dict)
    alias_status: dict[int, dict[str, str]] = defaultdict(dict)
    for model_id, alias, number, status in conn.execute(
        select(aliases.c.model_id, aliases.c.name, versions.c.number, versions.c.status)
        .join(versions, versions.c.id == aliases.c.version_id)
        .where(aliases.c.model_id.in_(ids))
        .order_by(aliases.c.name)
    ):
        alias_map[model_id][alias] = number
        if status != "active":
            alias_status[model_id][alias] = status

    counts: dict[int, tuple[int, int | None, datetime | None]] = {}
    for model_id, count, latest, newest in conn.execute(
        select(
            versions.c.model_id,
            func.count(),
            func.max(versions.c.number),
            func.max(versions.c.created_at),
        )
        .where(versions.c.model_id.in_(ids), live)
        .group_by(versions.c.model_id)
    ):
        counts[model_id] = (count, latest, newest)

    moved: dict[int, datetime] = dict(
        conn.execute(
            select(alias_events.c.model_id, func.max(alias_events.c.at))
            .where(alias_events.c.model_id.in_(ids))
            .group_by(alias_events.c.model_id)
        ).all()
    )

    personal: dict[int, set[str]] = defaultdict(set)
    for model_id, uri in conn.execute(
        select(versions.c.model_id, datasets.c.uri)
        .join(version_datasets, version_datasets.c.version_id == versions.c.id)
        .join(datasets, datasets.c.id == version_datasets.c.dataset_id)
        .where(versions.c.model_id.in_(ids), live, datasets.c.personal_data.is_(True))
        .distinct()
    ):
        personal[model_id].add(uri)

    related: dict[tuple[int, str], set[str]] = defaultdict(set)
    target = versions.alias("target")
    for model_id, kind, other in conn.execute(
        select(versions.c.model_id, version_relations.c.kind, models.c.name)
        .join(version_relations, version_relations.c.version_id == versions.c.id)
        .join(target, target.c.id == version_relations.c.target_id)
        .join(models, models.c.id == target.c.model_id)
        .where(versions.c.model_id.in_(ids), live, access.readable(models.c.name))
        .distinct()
    ):
        related[(model_id, kind)].add(other)

    pulls: dict[int, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for model_id, number, actor, count in conn.execute(
        select(versions.c.model_id, versions.c.number, version_pulls.c.actor, func.count())
        .join(version_pulls, version_pulls.c.version_id == versions.c.id)
        .where(versions.c.model_id.in_(ids))
        .group_by(versions.c.model_id, versions.c.number, version_pulls.c.actor)
    ):
        pulls[model_id][number][actor] = count

    entries = []
    for row in rows:
        count, latest, newest = counts.get(row.id, (0, None, None))
        changes = [row.updated_at, newest, moved.get(row.id)]
        entries.append(
            InventoryEntry(
                name=row.name,
                description=row.description,
                owner=row.owner,
                contacts=row.contacts or [],
                risk_level=row.risk_level,
                risk_reason=row.risk_reason,
                card_completeness=row.card_completeness,
                aliases=alias_map.get(row.id, {}),
                alias_status=alias_status.get(row.id, {}),
                latest_version=latest,
                version_count=count,
                last_change=max(c for c in changes if c is not None),
                personal_data=sorted(personal.get(row.id, ())),
                depends_on=sorted(related.get((row.id, "depends_on"), ())),
                derived_from=sorted(related.get((row.id, "derived_from"), ())),
                pulls=[
                    PullCount(number=number, count=sum(by.values()), by=dict(sorted(by.items())))
                    for number, by in sorted(pulls.get(row.id, {}).items(), reverse=True)
                ],
            )
        )
    return entries


INVENTORY_CSV_COLUMNS = (
    "name",
    "owner",
    "contacts",
    "risk_level",
    "risk_reason",
    "card_completeness",
    "aliases",
    "latest_version",
    "version_count",
    "last_change",
    "personal_data",
    "depends_on",
    "derived_from",
    "pulls",
    "alias_status",
)


# A cell starting with one of these is a formula to spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: formula-like text gets a leading ``'``
    (owners, contacts and reasons are free text anyone with write access sets)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _inventory_rows(inventory: Inventory) -> Iterator[list[str]]:
    """The inventory as CSV rows (a header first); lists joined with ``;``."""
    yield list(INVENTORY_CSV_COLUMNS)
    for e in inventory.models:
        yield [_cell(cell) for cell in _row(e)]


def _row(e: InventoryEntry) -> list[str]:
    return [
        e.name,
        e.owner or "",
        ";".join(e.contacts),
        e.risk_level or "",
        e.risk_reason,
        "" if e.card_completeness is None else f"{e.card_completeness:g}",
        ";".join(f"{alias}={number}" for alias, number in e.aliases.items()),
        "" if e.latest_version is None else str(e.latest_version),
        str(e.version_count),
        e.last_change.isoformat(),
        ";".join(e.personal_data),
        ";".join(e.depends_on),
        ";".join(e.derived_from),
        ";".join(f"{p.number}:" + ",".join(f"{a}={n}" for a, n in p.by.items()) for p in e.pulls),
        ";".join(f"{alias}={status}" for alias, status in e.alias_status.items()),
    ]
