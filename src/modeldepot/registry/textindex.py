"""The documents free-text search reads, rewritten whenever the text they hold changes.

One document per model (name, description, owner, tags, card) and one per version
(model name, description, tags, format, datasets, card). Writers call
``index_model``/``index_version`` inside their own transaction, so the index never
disagrees with a committed row; the database's full-text index follows the table
(triggers on SQLite, an expression index on PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, insert, select, update

from modeldepot.db import hotpath
from modeldepot.db.tables import (
    datasets,
    model_tags,
    models,
    search_documents,
    version_datasets,
    version_tags,
    versions,
)

_SEPARATORS = re.compile(r"[/_.\-:]+")


def _words(name: str) -> str:
    """``ads/fraud-detector`` also as ``ads fraud detector``, so each part is a word."""
    return f"{name} {_SEPARATORS.sub(' ', name)}"


def index_model(conn: Connection, model_id: int) -> None:
    row = conn.execute(
        select(models.c.name, models.c.description, models.c.owner, models.c.card).where(
            models.c.id == model_id
        )
    ).one()
    tags = conn.execute(
        select(model_tags.c.key, model_tags.c.value).where(model_tags.c.model_id == model_id)
    ).all()
    body = "\n".join(
        [
            _words(row.name),
            row.description,
            row.owner or "",
            *(f"{k} {v}" for k, v in tags),
            row.card or "",
        ]
    )
    updated = conn.execute(
        update(search_documents)
        .where(search_documents.c.model_id == model_id, search_documents.c.version_id.is_(None))
        .values(body=body)
    )
    if updated.rowcount == 0:
        conn.execute(insert(search_documents).values(model_id=model_id, body=body))


def version_body(
    name: str,
    description: str,
    format: str | None,
    tags: Mapping[str, str],
    used: Iterable[tuple[str, str]],
    card: str | None,
) -> str:
    """The text a version's document holds (``used``: its datasets' names and URIs)."""
    return "\n".join(
        [
            _words(name),
            description,
            format or "",
            *(f"{k} {v}" for k, v in tags.items()),
            *(f"{n} {uri}" for n, uri in used),
            card or "",
        ]
    )


def index_new_version(conn: Connection, model_id: int, version_id: int, body: str) -> None:
    """Index a version being created: one insert, as nothing is indexed for it yet."""
    row = {"model_id": model_id, "version_id": version_id, "body": body}
    hotpath.insert_row(conn, search_documents, row)


def index_version(conn: Connection, version_id: int) -> None:
    """Rewrite the document of an existing version from its rows."""
    row = conn.execute(
        select(
            versions.c.model_id,
            versions.c.description,
            versions.c.format,
            versions.c.card,
            models.c.name,
        )
        .join(models, models.c.id == versions.c.model_id)
        .where(versions.c.id == version_id)
    ).one()
    tags = conn.execute(
        select(version_tags.c.key, version_tags.c.value).where(
            version_tags.c.version_id == version_id
        )
    ).all()
    used = conn.execute(
        select(datasets.c.name, datasets.c.uri)
        .join(version_datasets, version_datasets.c.dataset_id == datasets.c.id)
        .where(version_datasets.c.version_id == version_id)
    ).all()
    body = version_body(row.name, row.description, row.format, dict(tags), used, row.card)
    updated = conn.execute(
        update(search_documents)
        .where(search_documents.c.version_id == version_id)
        .values(body=body)
    )
    if updated.rowcount == 0:
        conn.execute(
            insert(search_documents).values(model_id=row.model_id, version_id=version_id, body=body)
        )
