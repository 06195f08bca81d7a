"""The statements every version create runs, as plain functions on a connection.

Each runs as a ``Prepared`` statement (``db/prepared.py``: compiled once, run on the
DB-API cursor, about 40 µs less Python a statement), so the services that call these
read as plain SQLAlchemy and know nothing of how the statements are run. On a
``Database`` opened with ``prepared=False`` (``MODELDEPOT_PREPARED_STATEMENTS=false``)
the same statements go through SQLAlchemy's ordinary execution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from modeldepot.db.prepared import Prepared
from modeldepot.db.tables import models, versions

_MODEL_BY_NAME = Prepared(
    select(models.c.id, models.c.deleted_at.is_not(None)).where(models.c.name == bindparam("name"))
)
_NEXT_NUMBER = Prepared(
    update(models)
    .where(models.c.id == bindparam("model_id"))
    .values(
        last_version_number=models.c.last_version_number + 1,
        updated_at=bindparam("now"),
        updated_by=bindparam("actor"),
    )
    .returning(models.c.last_version_number)
)
_INSERT_VERSION = Prepared(insert(versions).returning(versions.c.id))
_INSERTS: dict[Table, Prepared] = {}


def model_by_name(conn: Connection, name: str) -> tuple[int, bool] | None:
    """``(id, deleted)`` of the model named ``name``; None if there is none."""
    row = _MODEL_BY_NAME.execute(conn, {"name": name}).fetchone()
    return None if row is None else (int(row[0]), bool(row[1]))


def next_version_number(conn: Connection, model_id: int, now: datetime, actor: str) -> int:
    """Take the model's next version number (its row stays locked until the commit)."""
    params = {"model_id": model_id, "now": now, "actor": actor}
    return int(_NEXT_NUMBER.execute(conn, params).fetchone()[0])


def insert_version(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert one ``versions`` row (every column without a Python default); its id."""
    return int(_INSERT_VERSION.execute(conn, values).fetchone()[0])


def insert_row(conn: Connection, table: Table, row: Mapping[str, Any]) -> None:
    """Insert one row into ``table``."""
    _insert(table).execute(conn, row)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``, in one batch."""
    _insert(table).executemany(conn, rows)


def _insert(table: Table) -> Prepared:
    statement = _INSERTS.get(table)
    if statement is None:
        # A race builds two; either is right, one is kept.
        statement = _INSERTS.setdefault(table, Prepared(insert(table)))
    return statement
