"""A server serves only the schema it was written for, and replicas migrate safely.

Each test has a database of its own (SQLite, then PostgreSQL), since it puts the
schema at a revision no other test may see.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.db.migrate import HEAD, SchemaMismatch, check_schema
from modeldepot.registry import Registry
from tests.e2e.conftest import _clean_env, run_modeldepot
from tests.scratch import (
    FUTURE_REVISION,
    put_schema_at,
    schema_revision,
)

OLDER = "0001"


def open_registry(url: str, tmp_path: Path, *, auto_migrate: bool) -> Registry:
    settings = ServerSettings(
        data_dir=tmp_path / "data", database_url=url, auto_migrate=auto_migrate
    )
    return Registry.from_settings(settings)


def test_an_older_schema_is_refused_without_auto_migrate(scratch_url, tmp_path) -> None:
    put_schema_at(scratch_url, OLDER)
    with pytest.raises(SchemaMismatch) as refused:
        open_registry(scratch_url, tmp_path, auto_migrate=False)
    message = str(refused.value)
    assert f"at revision {OLDER}" in message and HEAD in message
    assert message.endswith("run `modeldepot db upgrade`")
    assert "\n" not in message
    assert schema_revision(scratch_url) == OLDER


def test_an_empty_database_is_refused_without_auto_migrate(scratch_url, tmp_path) -> None:
    with pytest.raises(SchemaMismatch, match=r"schema is empty.*run `modeldepot db upgrade`"):
        open_registry(scratch_url, tmp_path, auto_migrate=False)
    assert schema_revision(scratch_url) is None


def test_auto_migrate_upgrades_an_older_schema(scratch_url, tmp_path) -> None:
    put_schema_at(scratch_url, OLDER)
    open_registry(scratch_url, tmp_path, auto_migrate=True).close()
    assert schema_revision(scratch_url) == HEAD


@pytest.mark.parametrize("auto_migrate", [True, False])
def test_a_newer_schema_is_refused_even_with_auto_migrate(
    scratch_url, tmp_path, auto_migrate: bool
) -> None:
    put_schema_at(scratch_url, FUTURE_REVISION)
    with pytest.raises(SchemaMismatch) as refused:
        open_registry(scratch_url, tmp_path, auto_migrate=auto_migrate)
    assert refused.value.newer
    assert str(refused.value).endswith("this server is older than the database: upgrade modeldepot")
    assert schema_revision(scratch_url) == FUTURE_REVISION


def test_a_current_schema_is_served_without_migrating(scratch_url, tmp_path) -> None:
    put_schema_at(scratch_url, "head")
    open_registry(scratch_url, tmp_path, auto_migrate=False).close()


def test_replicas_auto_migrating_at_once_all_start_on_one_schema(scratch_url) -> None:
    if scratch_url.startswith("sqlite"):
        pytest.skip("replicas share PostgreSQL; SQLite serves one process")
    put_schema_at(scratch_url, OLDER)
    replicas = 4
    start = threading.Barrier(replicas)
    errors: list[BaseException] = []

    def replica() -> None:
        db = Database(scratch_url)
        try:
            start.wait(10)
            check_schema(db.engine, migrate=True)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=replica) for _ in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert schema_revision(scratch_url) == HEAD
    engine = sa.create_engine(scratch_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    engine.dispose()


def db_upgrade(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = _clean_env() | {"MODELDEPOT_DATABASE_URL": url}
    return run_modeldepot("db", "upgrade", "--data-dir", str(tmp_path / "data"), env=env)


def test_db_upgrade_brings_an_older_schema_to_the_head(scratch_url, tmp_path) -> None:
    put_schema_at(scratch_url, OLDER)
    result = db_upgrade(scratch_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database at revision {HEAD}"


def test_db_upgrade_refuses_a_newer_schema_in_one_line(scratch_url, tmp_path) -> None:
    put_schema_at(scratch_url, FUTURE_REVISION)
    result = db_upgrade(scratch_url, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"modeldepot: error: the database schema (revision {FUTURE_REVISION}) is newer than "
        f"this server's ({HEAD}): this server is older than the database: upgrade modeldepot"
    ]
    assert schema_revision(scratch_url) == FUTURE_REVISION
