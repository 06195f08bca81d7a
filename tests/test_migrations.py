"""Migrations create exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from modeldepot.db.migrate import HEAD, current_revision, head_revision
from modeldepot.db.tables import include_object, metadata


def test_migrated_schema_matches_table_definitions(shared_db) -> None:
    with shared_db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_object": include_object}), metadata
        )
    assert diff == []


def test_database_is_at_head_revision(shared_db) -> None:
    assert current_revision(shared_db.engine) == head_revision()


def test_head_constant_names_the_newest_migration() -> None:
    assert head_revision() == HEAD
