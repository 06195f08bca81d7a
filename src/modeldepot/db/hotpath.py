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

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text, update

from modeldepot.db.prepared import Prepared
from modeldepot.db.tables import models, versions
from modeldepot.db.types import UTCDateTime

_MODEL_BY_NAME = Prepared(
    select(models.c.id, models.c.deleted_at.is_not(None)).where(models.c.name == bindparam("name"))
)
# A push names itself with a push id; the version it made, if any, comes back with the
# model in the same round trip.
_MODEL_AND_PUSH = Prepared(
    select(
        models.c.id,
        models.c.deleted_at.is_not(None),
        select(versions.c.id)
        .where(versions.c.model_id == models.c.id, versions.c.push_id == bindparam("push_id"))
        .scalar_subquery(),
    ).where(models.c.name == bindparam("name"))
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
# PostgreSQL: a version is inserted under a provisional number unique among the
# transactions in flight (a backend's pid is unique among live connections, each
# running one transaction), and numbered at the end (see ``insert_version``).
_INSERT_PROVISIONAL = Prepared(
    insert(versions).values(number=-func.pg_backend_pid()).returning(versions.c.id)
)
# PostgreSQL: take the model's next number and give it to the version in one round
# trip (the counter row stays locked until the commit).
_NUMBER_LAST = Prepared(
    text(
        """
        WITH taken AS (
            UPDATE models
            SET last_version_number = last_version_number + 1,
                updated_at = :now, updated_by = :actor
            WHERE id = :model_id
            RETURNING last_version_number
        )
        UPDATE versions SET number = taken.last_version_number FROM taken
        WHERE versions.id = :version_id
        RETURNING versions.number
        """
    ).bindparams(bindparam("now", type_=UTCDateTime()))
)
_INSERTS: dict[Table, Prepared] = {}


def model_by_name(conn: Connection, name: str) -> tuple[int, bool] | None:
    """``(id, deleted)`` of the model named ``name``; None if there is none."""
    row = _MODEL_BY_NAME.execute(conn, {"name": name}).fetchone()
    return None if row is None else (int(row[0]), bool(row[1]))


def model_and_push(
    conn: Connection, name: str, push_id: str
) -> tuple[int, bool, int | None] | None:
    """``(id, deleted, version id)`` of the model named ``name`` and of its version
    pushed with ``push_id`` (None if none was); None if there is no such model."""
    row = _MODEL_AND_PUSH.execute(conn, {"name": name, "push_id": push_id}).fetchone()
    if row is None:
        return None
    return int(row[0]), bool(row[1]), None if row[2] is None else int(row[2])


def next_version_number(conn: Connection, model_id: int, now: datetime, actor: str) -> int:
    """Take the model's next version number (its row stays locked until the commit)."""
    params = {"model_id": model_id, "now": now, "actor": actor}
    return int(_NEXT_NUMBER.execute(conn, params).fetchone()[0])


def insert_version(conn: Connection, values: Mapping[str, Any]) -> tuple[int, int | None]:
    """Insert one ``versions`` row (every column but ``number``); ``(id, number)``, the
    number None until ``number_version`` gives it.

    Every push to a model waits on that model's counter row from the moment it takes
    it until it commits. On PostgreSQL the row is inserted under a provisional number
    and the counter taken by ``number_version``, the commit's last statements but the
    audit record's; SQLite commits one writer at a time, so there the number is taken
    first, in the same number of statements as before.
    """
    if conn.dialect.name == "postgresql":
        return int(_INSERT_PROVISIONAL.execute(conn, values).fetchone()[0]), None
    number = next_version_number(
        conn, values["model_id"], values["created_at"], values["created_by"]
    )
    version_id = _INSERT_VERSION.execute(conn, {**values, "number": number}).fetchone()[0]
    return int(version_id), number


def number_version(
    conn: Connection, version_id: int, values: Mapping[str, Any], number: int | None
) -> int:
    """The number of the version ``insert_version`` inserted, taken now if it has none."""
    if number is not None:
        return number
    params = {
        "model_id": values["model_id"],
        "version_id": version_id,
        "now": values["created_at"],
        "actor": values["created_by"],
    }
    return int(_NUMBER_LAST.execute(conn, params).fetchone()[0])


def insert_row(conn: Connection, table: Table, row: Mapping[str, Any]) -> None:
    """Insert one row into ``table``."""
    _insert(table).execute(conn, row)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``, in one batch."""
    if len(rows) == 1:
        # The driver batches many rows in a pipeline, which costs more than it saves
        # for one.
        _insert(table).execute(conn, rows[0])
        return
    _insert(table).executemany(conn, rows)


def _insert(table: Table) -> Prepared:
    statement = _INSERTS.get(table)
    if statement is None:
        # A race builds two; either is right, one is kept.
        statement = _INSERTS.setdefault(table, Prepared(insert(table)))
    return statement
