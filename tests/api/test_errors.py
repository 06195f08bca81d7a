"""The error contract: problem+json everywhere, stable codes, body limits, API docs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modeldepot.config import ServerSettings
from modeldepot.errors import ModeldepotError, all_error_classes
from modeldepot.server import app as app_module
from modeldepot.server.errors import status_for
from tests.api.helpers import API, JSON, assert_json, assert_problem, digest_of

README = Path(__file__).parents[2] / "README.md"
SMALL_LIMIT = 1024


@pytest.fixture
def small_limit_api(settings, registry, admin_token):
    """The real app with its JSON body limit lowered to ``SMALL_LIMIT`` bytes."""
    settings = dataclasses.replace(settings, max_json_body_bytes=SMALL_LIMIT)
    app = app_module.create_app(settings, registry)
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        yield client


def model_body(size: int) -> bytes:
    """A ModelCreate JSON document of exactly ``size`` bytes."""
    head, tail = b'{"name": "a/b", "description": "', b'"}'
    return head + b"d" * (size - len(head) - len(tail)) + tail


def test_unknown_route_is_404_not_found(api) -> None:
    assert_problem(api.get(f"{API}/nope"), 404, "NOT_FOUND")
    assert_problem(api.get("/nope"), 404, "NOT_FOUND")


def test_wrong_method_is_405_method_not_allowed(api) -> None:
    for method, path in [
        ("PUT", "/resolve"),
        ("DELETE", "/uploads"),
        ("PATCH", "/blobs/missing"),
        ("DELETE", "/models"),
    ]:
        assert_problem(api.request(method, API + path), 405, "METHOD_NOT_ALLOWED", method + path)


def test_405_names_the_allowed_methods(api) -> None:
    response = api.put(f"{API}/resolve")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


def test_malformed_json_body_is_422_invalid_input(api) -> None:
    for body in (b'{"name": ', b"{'name': 'a/b'}", b"", b"nul\x00", b'{"name": "a/b"} x'):
        response = api.post(f"{API}/models", content=body, headers={"content-type": JSON})
        problem = assert_problem(response, 422, "INVALID_INPUT", body)
        assert problem["errors"][0]["loc"][0] == "body"
    assert assert_json(api.get(f"{API}/models"), 200)["items"] == []


def test_json_body_of_the_wrong_shape_is_422_listing_the_field(api) -> None:
    response = api.post(f"{API}/models", json={"name": 7, "tags": ["x"]})
    problem = assert_problem(response, 422, "INVALID_INPUT")
    assert {tuple(e["loc"]) for e in problem["errors"]} >= {("body", "name"), ("body", "tags")}


def test_json_body_over_the_default_limit_is_413_request_too_large(api) -> None:
    limit = ServerSettings.max_json_body_bytes
    assert limit <= 8 * 1024 * 1024  # a few MiB: metadata needs no more
    response = api.post(
        f"{API}/models", content=model_body(limit + 1), headers={"content-type": JSON}
    )
    assert_problem(response, 413, "REQUEST_TOO_LARGE")
    assert assert_json(api.get(f"{API}/models"), 200)["items"] == []


def test_json_body_at_the_limit_is_accepted(small_limit_api) -> None:
    response = small_limit_api.post(
        f"{API}/models", content=model_body(SMALL_LIMIT), headers={"content-type": JSON}
    )
    assert assert_json(response, 201)["name"] == "a/b"


def test_json_body_declared_over_the_limit_is_413_request_too_large(small_limit_api) -> None:
    response = small_limit_api.post(
        f"{API}/models", content=model_body(SMALL_LIMIT + 1), headers={"content-type": JSON}
    )
    assert_problem(response, 413, "REQUEST_TOO_LARGE")


def test_streamed_json_body_over_the_limit_is_413_request_too_large(small_limit_api) -> None:
    body = model_body(SMALL_LIMIT * 4)
    chunks = (body[i : i + 256] for i in range(0, len(body), 256))
    response = small_limit_api.post(f"{API}/models", content=chunks, headers={"content-type": JSON})
    assert_problem(response, 413, "REQUEST_TOO_LARGE")


def test_blob_bodies_are_not_bound_by_the_json_limit(small_limit_api) -> None:
    data = b"x" * (SMALL_LIMIT * 4)
    response = small_limit_api.put(f"{API}/blobs/{digest_of(data)}", content=data)
    assert assert_json(response, 201)["size"] == len(data)


def test_unexpected_exception_is_500_internal_error_without_details(api, registry) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("secret connection string")

    registry.models.get_model = explode
    response = api.get(f"{API}/models/ads/rec")
    problem = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.text
    assert problem["detail"] == "the server failed; see its log"


def test_openapi_lists_the_main_paths(api) -> None:
    spec = assert_json(api.get(f"{API}/openapi.json"), 200)
    assert spec["info"]["title"] == "modeldepot"
    assert {
        f"{API}/models",
        f"{API}/models/{{name}}",
        f"{API}/models/{{name}}/-/versions",
        f"{API}/models/{{name}}/-/versions/{{number}}",
        f"{API}/models/{{name}}/-/versions/{{number}}/manifest",
        f"{API}/models/{{name}}/-/versions/{{number}}/files/{{path}}",
        f"{API}/models/{{name}}/-/aliases/{{alias}}",
        f"{API}/models/{{name}}/-/alias-history",
        f"{API}/resolve",
        f"{API}/blobs/missing",
        f"{API}/blobs/{{digest}}",
        f"{API}/uploads",
        f"{API}/uploads/{{upload_id}}",
        f"{API}/uploads/{{upload_id}}/complete",
    } <= set(spec["paths"])
    assert set(spec["paths"][f"{API}/blobs/{{digest}}"]) == {"get", "head", "put"}


def test_docs_page_is_html(api) -> None:
    response = api.get(f"{API}/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f"{API}/openapi.json" in response.text


def test_docs_page_works_offline_with_assets_served_locally(api) -> None:
    page = api.get(f"{API}/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(url.startswith(f"{API}/docs/static/") for url in assets), assets
    assert "cdn" not in page
    for url in assets:
        response = api.get(url)
        assert response.status_code == 200 and len(response.content) > 0, url


def test_root_redirects_to_the_docs(api) -> None:
    response = api.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, f"{API}/docs")


def test_health_check_answers_ok(api) -> None:
    assert assert_json(api.get("/healthz"), 200) == {"status": "ok"}


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda cls: cls.code)
def test_every_error_code_maps_to_an_error_status(cls: type[ModeldepotError]) -> None:
    assert 400 <= status_for(cls("detail")) <= 599
    assert re.fullmatch(r"[A-Z]+(_[A-Z]+)*", cls.code)


def test_error_codes_are_unique() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))


def test_error_statuses_match_the_readme_table() -> None:
    documented = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", README.read_text(), re.M))
    actual = {
        cls.code: str(status_for(cls("detail")))
        for cls in all_error_classes()
        if cls.code in documented
    }
    assert actual == {code: documented[code] for code in actual}
    client_only = set(re.findall(r"^\| `([A-Z_]+)` \| — \|", README.read_text(), re.M))
    unlisted = {cls.code for cls in all_error_classes()} - set(actual) - client_only
    assert unlisted == {"INVALID_INPUT"}  # documented as 400/422


def test_openapi_documents_problem_responses_on_every_operation(api) -> None:
    spec = api.get(f"{API}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    api_paths = {p: ops for p, ops in spec["paths"].items() if p.startswith(API)}
    assert len(api_paths) >= 20
    for path, operations in api_paths.items():
        for method, operation in operations.items():
            problem = operation["responses"]["400"]["content"]["application/problem+json"]
            schema = schemas[problem["schema"]["$ref"].rsplit("/", 1)[1]]
            assert "code" in schema["properties"], (method, path)
