"""Probes: /healthz says the process answers, /readyz that it can serve requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modeldepot.db.engine import Database
from modeldepot.db.migrate import HEAD
from modeldepot.registry import Registry
from tests.api.helpers import assert_json, assert_problem
from tests.scratch import FUTURE_REVISION, put_schema_at, scratch_database


class UnreachableStore:
    """A blob store whose every call fails, as a store behind a broken network would."""

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> None:
            raise OSError(f"store unreachable ({name})")

        return fail


def serve_with(api, registry: Registry) -> None:
    api.app.state.registry = registry


def test_liveness_checks_nothing_but_the_process(api, registry) -> None:
    serve_with(api, Registry(registry.db, UnreachableStore(), registry.settings))
    assert assert_json(api.get("/healthz"), 200) == {"status": "ok"}


def test_ready_when_database_schema_and_blob_store_answer(api) -> None:
    body = assert_json(api.get("/readyz"), 200)
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "schema", "blobstore"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["schema"]["detail"] == f"at revision {HEAD}"


def test_not_ready_names_the_failing_blob_store(api, registry) -> None:
    serve_with(api, Registry(registry.db, UnreachableStore(), registry.settings))
    body = assert_problem(api.get("/readyz"), 503, "NOT_READY")
    checks = body["checks"]
    assert checks["blobstore"] == {"ok": False, "detail": "unreachable (OSError)"}
    assert checks["database"]["ok"] and checks["schema"]["ok"]
    assert body["detail"] == "blobstore: unreachable (OSError)"


def unreachable_database_url(registry: Registry, tmp_path: Path) -> str:
    if registry.db.is_sqlite:
        return f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it
    return registry.db.url.set(port=1).render_as_string(hide_password=False)


def test_not_ready_when_the_database_is_unreachable(api, registry, tmp_path) -> None:
    broken = Database(unreachable_database_url(registry, tmp_path))
    try:
        serve_with(api, Registry(broken, registry.store, registry.settings))
        body = assert_problem(api.get("/readyz"), 503, "NOT_READY")
    finally:
        broken.dispose()
    checks = body["checks"]
    assert not checks["database"]["ok"]
    assert checks["database"]["detail"] == "unreachable (OperationalError)"
    assert checks["schema"] == {"ok": False, "detail": "not checked: the database failed"}
    assert checks["blobstore"]["ok"]


@pytest.fixture
def scratch_registry(registry, tmp_path) -> Iterator[Registry]:
    """A registry on a database of its own, whose schema the test may change."""
    backend = "sqlite" if registry.db.is_sqlite else "postgresql"
    with scratch_database(backend, tmp_path) as url:
        db = Database(url)
        try:
            yield Registry(db, registry.store, registry.settings)
        finally:
            db.dispose()


def test_not_ready_while_the_schema_is_older_than_the_code(api, scratch_registry) -> None:
    put_schema_at(scratch_registry.db.url.render_as_string(hide_password=False), "0001")
    serve_with(api, scratch_registry)
    body = assert_problem(api.get("/readyz"), 503, "NOT_READY")
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["blobstore"]["ok"]
    assert not checks["schema"]["ok"]
    assert checks["schema"]["detail"].endswith("run `modeldepot db upgrade`")
    assert "0001" in checks["schema"]["detail"]


def test_a_running_replica_stays_ready_when_the_next_release_migrates(
    api, scratch_registry
) -> None:
    # Migrations only add: this replica keeps serving until the new release replaces it
    # (it would refuse to start again on this schema).
    put_schema_at(scratch_registry.db.url.render_as_string(hide_password=False), FUTURE_REVISION)
    serve_with(api, scratch_registry)
    answer = api.get("/readyz")
    assert answer.status_code == 200
    schema = answer.json()["checks"]["schema"]
    assert schema["ok"] and schema["detail"].endswith("upgrade modeldepot")


def test_probes_are_documented_under_health(api) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert paths["/healthz"]["get"]["tags"] == ["health"]
    assert paths["/readyz"]["get"]["tags"] == ["health"]
    assert "503" in paths["/readyz"]["get"]["responses"]
    assert "/metrics" not in paths
