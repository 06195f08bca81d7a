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

from sqlalchemy import Connection, Table, bindparam, func, insert, literal, select, update

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
# A version is inserted under a provisional number, unique among the transactions in
# flight, and numbered last (see ``insert_provisional_version``): PostgreSQL's backend
# pid is unique among live connections, each running one transaction; SQLite has one
# writer at a time.
_INSERT_PROVISIONAL = {
    "postgresql": Prepared(
        insert(versions).values(number=-func.pg_backend_pid()).returning(versions.c.id)
    ),
    "sqlite": Prepared(insert(versions).values(number=literal(-1)).returning(versions.c.id)),
}
_SET_NUMBER = Prepared(
    update(versions).where(versions.c.id == bindparam("version_id")).values(number=bindparam("n"))
)
_INSERTS: dict[Table, Prepared] = {}


def model_by_name(conn: Connection, name: str) -> tuple[int, bool] | None:
    """``(id, deleted)`` of the model named ``name``; None if there is none."""
    row = _MODEL_BY_NAME.execute(conn, {"name": name}).fetchone()
    return None if row is None else (int(row[0]), bool(row[1]))


def next_version_number(conn: Connection, model_id: int, now: datetime, actor: str) -> int:
    """Take the model's next version number (its row stays locked until the commit)."""
    params = {"model_id": model_id, "now": now, "actor": actor}
    return int(_NEXT_NUMBER.execute(conn, params).fetchone()[0])


def insert_provisional_version(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert one ``versions`` row (every column but ``number``) under a provisional
    number; its id. ``set_version_number`` must number it before the commit.

    This is what lets a commit take the model's version counter, the lock every push
    to that model waits on, as its last statement but two, instead of its first.
    """
    return int(_INSERT_PROVISIONAL[conn.dialect.name].execute(conn, values).fetchone()[0])


def set_version_number(conn: Connection, version_id: int, number: int) -> None:
    _SET_NUMBER.execute(conn, {"version_id": version_id, "n": number})


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
