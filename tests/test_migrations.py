"""Migrations create exactly the schema the code declares, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from modeldepot.db.engine import Database
from modeldepot.db.migrate import HEAD, current_revision, downgrade, head_revision, upgrade
from modeldepot.db.tables import include_object, metadata
from modeldepot.registry.search import SearchService
from modeldepot.registry.unit import Units
from modeldepot.registry.versions import VersionService
from modeldepot.security.context import Context


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


def _fill_at_0001(db: Database) -> None:
    """A model with one version, as the first schema stored them."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    who = {"created_at": now, "created_by": "old", "updated_at": now, "updated_by": "old"}
    with db.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO models (id, name, description, last_version_number, created_at,"
                " created_by, updated_at, updated_by) VALUES (1, 'ads/legacy',"
                " 'gradient boosted ranking', 1, :created_at, :created_by, :updated_at,"
                " :updated_by)"
            ),
            who,
        )
        conn.execute(
            sa.text(
                "INSERT INTO versions (id, model_id, number, digest, description, total_size,"
                " file_count, created_at, created_by, updated_at, updated_by) VALUES (1, 1, 1,"
                " :digest, 'nightly retrain', 0, 0, :created_at, :created_by, :updated_at,"
                " :updated_by)"
            ),
            {"digest": "sha256:" + "0" * 64, **who},
        )
        conn.execute(
            sa.text("INSERT INTO version_params (version_id, key, value) VALUES (1, :k, :v)"),
            [
                {"k": "lr", "v": "0.01"},
                {"k": "opt", "v": '"adam"'},
                {"k": "bn", "v": "true"},
                {"k": "layers", "v": "3"},
            ],
        )
        conn.execute(
            sa.text("INSERT INTO version_metrics (version_id, key, value) VALUES (1, 'auc', 0.9)")
        )


def test_upgrade_from_0001_keeps_data_and_fills_the_new_indexes(scratch_url: str) -> None:
    db = Database(scratch_url)
    try:
        upgrade(db.engine, "0001")
        _fill_at_0001(db)
        upgrade(db.engine)
        assert current_revision(db.engine) == HEAD
        versions = VersionService(Units(db))
        version = versions.resolve(Context.system("tests"), "ads/legacy:1")
        assert version.metrics == {"auc": 0.9}
        assert version.params == {"lr": 0.01, "opt": "adam", "bn": True, "layers": 3}
        search, ctx = SearchService(Units(db)), Context.system("tests")
        assert search.search_models(ctx, '"boosted"').ids == [1]
        assert search.search_versions(ctx, '"nightly"').ids == [1]
        assert search.search_versions(ctx, "params.lr < 0.1 AND params.opt = adam").ids == [1]
        assert search.search_versions(ctx, "params.bn = true AND params.layers = 3").ids == [1]
        assert search.search_versions(ctx, "metrics.auc > 0.5", sort="-metrics.auc").ids == [1]
    finally:
        db.dispose()


def test_downgrade_to_0001_and_upgrade_again(scratch_url: str) -> None:
    db = Database(scratch_url)
    try:
        upgrade(db.engine, "0001")
        _fill_at_0001(db)
        upgrade(db.engine)
        downgrade(db.engine, "0001")
        assert current_revision(db.engine) == "0001"
        upgrade(db.engine)
        search = SearchService(Units(db))
        assert search.search_versions(Context.system("tests"), '"nightly"').ids == [1]
    finally:
        db.dispose()


def test_0004_keeps_sessions_and_blobs_and_its_downgrade_drops_only_streamed_sessions(
    scratch_url: str,
) -> None:
    db = Database(scratch_url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    session = {"size": 10, "created_at": now, "created_by": "old", "touched_at": now}
    insert_session = sa.text(
        "INSERT INTO uploads (id, digest, size, created_at, created_by, touched_at)"
        " VALUES (:id, :digest, :size, :created_at, :created_by, :touched_at)"
    )
    digest = "sha256:" + "1" * 64
    try:
        upgrade(db.engine, "0003")
        with db.write() as conn:
            conn.execute(insert_session, {"id": "a" * 32, "digest": digest, **session})
            conn.execute(
                sa.text(
                    "INSERT INTO blobs (digest, size, created_at, touched_at)"
                    " VALUES (:digest, 10, :now, :now)"
                ),
                {"digest": digest, "now": now},
            )
        upgrade(db.engine)
        with db.write() as conn:
            conn.execute(insert_session, {"id": "b" * 32, "digest": None, **session})
            sample = conn.execute(sa.text("SELECT sample FROM blobs")).scalar_one()
            assert sample is None
        downgrade(db.engine, "0003")
        with db.read() as conn:
            kept = conn.execute(sa.text("SELECT id, digest FROM uploads")).all()
        assert [tuple(row) for row in kept] == [("a" * 32, digest)]
        upgrade(db.engine)
        assert current_revision(db.engine) == HEAD
    finally:
        db.dispose()


def test_0005_keeps_open_sessions_owned_by_nobody_and_downgrades(scratch_url: str) -> None:
    db = Database(scratch_url)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    insert_session = sa.text(
        "INSERT INTO uploads (id, digest, size, created_at, created_by, touched_at)"
        " VALUES (:id, NULL, 10, :now, 'old', :now)"
    )
    try:
        upgrade(db.engine, "0004")
        with db.write() as conn:
            conn.execute(insert_session, {"id": "c" * 32, "now": now})
        upgrade(db.engine)
        with db.read() as conn:
            rows = conn.execute(sa.text("SELECT id, client FROM uploads")).all()
        assert [tuple(row) for row in rows] == [("c" * 32, None)]
        downgrade(db.engine, "0004")
        with db.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM uploads")).scalar_one() == 1
        upgrade(db.engine)
        assert current_revision(db.engine) == HEAD
    finally:
        db.dispose()
