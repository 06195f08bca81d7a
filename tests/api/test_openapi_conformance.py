"""Schemathesis drives every operation of the OpenAPI document against the real app.

In-process over ASGI, on SQLite only (the document does not depend on the database,
and a second run would double the cost). Seeded and bounded, so that it is the same
run every time and costs well under a minute: every operation gets its documented
examples, the coverage phase's boundary and negative cases, and a few fuzzed ones.
Each answer must not be a server error, and its status, content type and body must be
ones the document declares for that operation. The database holds a model, version,
tags, card and alias under the names the generated cases try first, so success answers
are checked as well as errors (34 of the 57 operations answer 2xx at least once).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.db.migrate import upgrade
from modeldepot.digest import digest_bytes
from modeldepot.registry import Registry
from modeldepot.schemas import FileEntry, Problem, ValidationProblem, VersionCreate
from modeldepot.security.context import Context
from modeldepot.server.app import API, create_app
from modeldepot.server.errors import STATUS, document_problems

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples, coverage and fuzzing phases; the stateful one (chains of calls) would cost
# minutes. Deterministic: the same cases on every run.
CONFIG = {"generation": {"deterministic": True}, "phases": {"stateful": {"enabled": False}}}


# The document is built from an app that is never started (no database is opened), so
# the operations can be listed at collection; the requests go to ``app`` below.
schema = schemathesis.openapi.from_dict(
    create_app(ServerSettings()).openapi(), config=SchemathesisConfig.from_dict(CONFIG)
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    """The app on a SQLite database of its own, shared by every operation's test, and
    the token of its admin, which every case sends."""
    root: Path = tmp_path_factory.mktemp("openapi")
    settings_ = ServerSettings(
        data_dir=root / "data",
        database_url=f"sqlite:///{root / 'modeldepot.db'}",
        cleanup_interval_seconds=0,
    )
    db = Database(settings_.database_url)
    upgrade(db.engine)
    registry = Registry(db, LocalBlobStore(settings_.blob_dir, fsync=False), settings_)
    token_file = registry.identity.bootstrap(settings_.data_dir)
    assert token_file is not None
    _seed(registry)
    yield create_app(settings_, registry), token_file.read_text().strip()
    registry.close()


def _seed(registry: Registry) -> None:
    """Rows under the names the coverage phase tries first (``0``), so that the success
    answers of reads and writes are checked too, not only their errors."""
    ctx = Context.system("schemathesis")
    data = b"0"
    digest = digest_bytes(data)
    session = registry.uploads.create_upload(ctx, digest, len(data), model="0")
    writer = registry.uploads.open_writer(ctx, session.id, 0)
    writer.write(data)
    writer.close()
    registry.uploads.complete_upload(ctx, session.id)
    files = [FileEntry(path="0", size=len(data), digest=digest)]
    registry.versions.create_version(ctx, "0", VersionCreate(files=files, tags={"0": "0"}))
    registry.models.set_tag(ctx, "0", "0", "0")
    registry.models.set_card(ctx, "0", "# 0\n\n## Intended use\nTests.\n")
    registry.aliases.set_alias(ctx, "0", "a", 1)


@schema.parametrize()
@settings(
    max_examples=8,  # fuzzed cases per operation, besides its examples and coverage cases
    derandomize=True,
    deadline=None,
    database=None,
    # Free-form path parameters (model names, tag keys) make Hypothesis discard many
    # generated values that cannot sit in a path; that is expected, not a failure.
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    app: tuple[FastAPI, str], case: schemathesis.Case
) -> None:
    served, token = app
    case.call_and_validate(app=served, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def _document() -> dict[str, Any]:
    return create_app(ServerSettings()).openapi()


def test_every_error_response_is_documented_as_a_problem_document() -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    operations = [
        (method, path, operation)
        for path, methods in document["paths"].items()
        if path.startswith(API)
        for method, operation in methods.items()
    ]
    assert len(operations) >= 50
    for method, path, operation in operations:
        responses = operation["responses"]
        expected = {"400", "404", "413", "422", "500"} | ({"409"} if method != "get" else set())
        if method == "head":
            expected -= {"409"}
        assert expected <= set(responses), (method, path)
        for status, response in responses.items():
            if int(status) < 400:
                continue
            assert list(response["content"]) == ["application/problem+json"], (method, path)
            ref = response["content"]["application/problem+json"]["schema"]["$ref"]
            model = ValidationProblem if status == "422" else Problem
            assert ref == f"#/components/schemas/{model.__name__}", (method, path, status)
    assert {"code", "status", "title", "detail"} <= set(schemas["Problem"]["required"])
    assert "errors" in schemas["ValidationProblem"]["required"]
    assert "HTTPValidationError" not in schemas


def test_range_routes_document_416() -> None:
    paths = _document()["paths"]
    for path in (
        f"{API}/blobs/{{digest}}",
        f"{API}/models/{{name}}/-/versions/{{number}}/files/{{path}}",
    ):
        for method in ("get", "head"):
            assert "416" in paths[path][method]["responses"], (method, path)


def test_readiness_documents_its_503_problem() -> None:
    response = _document()["paths"]["/readyz"]["get"]["responses"]["503"]
    assert response["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_every_status_the_error_table_maps_to_is_documented() -> None:
    """A status added to the one error table must be documented where it can occur:
    in ``EVERY_OPERATION``, ``WRITES`` or a route's ``problems(...)``."""
    documented = {
        status
        for path, methods in _document()["paths"].items()
        if path.startswith(API)
        for operation in methods.values()
        for status in operation["responses"]
    }
    assert {str(status) for status in STATUS.values()} <= documented


def test_a_route_outside_the_api_documents_its_422_as_a_problem_too() -> None:
    app = FastAPI()
    document_problems(app, API)

    @app.get("/outside")
    def outside(n: int) -> int:
        return n

    document = app.openapi()
    response = document["paths"]["/outside"]["get"]["responses"]["422"]
    assert list(response["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in json.dumps(document)
