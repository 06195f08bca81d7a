"""Schema migrations through Alembic: the only way the schema changes.

Alembic is imported only when a migration runs: a server starting on a current
schema reads the stored revision with one query and compares it with ``HEAD``.

A server serves only a schema at ``HEAD`` (``check_schema``): an older one is upgraded
when it may migrate and refused otherwise; a newer one, written by a later release, is
always refused. On PostgreSQL a migration holds an advisory lock for its whole
transaction, so replicas migrating at once queue, and the later ones find nothing to do.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from modeldepot.db.locks import SCHEMA_MIGRATION, wait_exclusive

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions; tests/test_migrations.py keeps it true.
HEAD = "0008"


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this code expects; the message says what to run."""

    def __init__(self, message: str, *, newer: bool) -> None:
        super().__init__(message)
        self.newer = newer


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on ``engine``'s database, in one transaction."""
    from alembic import command

    with _migrating(engine) as config:
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert migrations down to ``revision`` (for operators undoing an upgrade)."""
    from alembic import command

    with _migrating(engine) as config:
        command.downgrade(config, revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Config]:
    """An Alembic config bound to one transaction on ``engine``.

    On SQLite, foreign keys are off while it runs: Alembic changes a table there by
    copying it and dropping the original, and with foreign keys on, dropping a table
    deletes every row that references it through ON DELETE CASCADE (a whole
    registry's versions, when the table is ``models``). They are checked before commit.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # Outside any transaction, where SQLite honours this pragma.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                wait_exclusive(conn, SCHEMA_MIGRATION)
                config.attributes["connection"] = conn
                yield config
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"migration broke a foreign key: {tuple(broken)}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def ensure_current(engine: Engine) -> None:
    """Upgrade the schema to ``HEAD`` unless it is there already (never a newer one)."""
    check_schema(engine, migrate=True)


def check_schema(engine: Engine, *, migrate: bool) -> None:
    """Return once the schema is at ``HEAD``; raise SchemaMismatch if it cannot be.

    With ``migrate``, an empty or older schema is upgraded first. A newer schema is
    refused either way: this code would misread it.
    """
    mismatch = schema_mismatch(current_revision(engine))
    if mismatch is None:
        return
    if mismatch.newer or not migrate:
        raise mismatch
    upgrade(engine)


def schema_mismatch(current: str | None) -> SchemaMismatch | None:
    """Why a database at revision ``current`` cannot be served as it is, or None."""
    if current == HEAD:
        return None
    if current is not None and current not in _known_revisions():
        return SchemaMismatch(
            f"the database schema (revision {current}) is newer than this server's ({HEAD}): "
            "this server is older than the database: upgrade modeldepot",
            newer=True,
        )
    found = "empty" if current is None else f"at revision {current}"
    return SchemaMismatch(
        f"the database schema is {found}, older than this server's ({HEAD}): "
        "run `modeldepot db upgrade`",
        newer=False,
    )


def current_revision(engine: Engine) -> str | None:
    """The revision stored in the database, or None for an empty one."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str | None:
    """The newest revision according to Alembic's scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@functools.cache
def _known_revisions() -> frozenset[str]:
    """Every revision this code's migrations define (read once: they never change)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(rev.revision for rev in script.walk_revisions())
