"""Databases of their own, for tests that put a schema in a state no other test may see
(an old revision, a newer one, none at all)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from modeldepot.db.engine import Database
from modeldepot.db.migrate import upgrade
from tests.conftest import POSTGRES_URL


@contextmanager
def scratch_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database of ``backend``; PostgreSQL's is dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'scratch-{uuid.uuid4().hex[:8]}.db'}"
        return
    with new_postgres_database(POSTGRES_URL) as url:
        yield url


@contextmanager
def new_postgres_database(server_url: str, prefix: str = "modeldepot_scratch") -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server of ``server_url``,
    dropped after (benchmarks use it too)."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# A revision no release of this code defines: what a later release's migration leaves.
FUTURE_REVISION = "9999_from_a_later_release"


def put_schema_at(url: str, revision: str) -> None:
    """Migrate the database at ``url`` to ``revision`` (``FUTURE_REVISION``: to the head,
    then recorded as that later release would have recorded it)."""
    db = Database(url)
    try:
        upgrade(db.engine, "head" if revision == FUTURE_REVISION else revision)
        if revision == FUTURE_REVISION:
            with db.write() as conn:
                conn.execute(
                    sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
                )
    finally:
        db.dispose()


def schema_revision(url: str) -> str | None:
    from modeldepot.db.migrate import current_revision

    db = Database(url)
    try:
        return current_revision(db.engine)
    finally:
        db.dispose()
