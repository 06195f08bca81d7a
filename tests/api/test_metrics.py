"""Prometheus metrics at /metrics: bounded labels, transfer bytes, sessions, the pool.

The app is shared by the module's tests, so counters are compared before and after.
"""

from __future__ import annotations

import os

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from modeldepot.server.app import create_app
from tests.api.helpers import API, digest_of, put_blob

BLOB_ROUTE = f"{API}/blobs/{{digest}}"


def sample(api: TestClient, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels`` (0 if absent)."""
    for family in text_string_to_metric_families(api.get("/metrics").text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


def requests_of(api: TestClient, method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return sample(api, "modeldepot_http_requests_total", **labels)


def test_requests_are_counted_by_route_template_never_by_path(api) -> None:
    route = f"{API}/models/{{name}}"
    before = requests_of(api, "GET", route, 404)
    for name in ("team-a/never", "team-b/seen", "team-c/x/y"):
        assert api.get(f"{API}/models/{name}").status_code == 404
    assert requests_of(api, "GET", route, 404) == before + 3
    exposition = api.get("/metrics").text
    assert "team-a" not in exposition and "never" not in exposition


def test_unmatched_paths_and_unknown_methods_add_no_series(api) -> None:
    before = requests_of(api, "GET", "<unmatched>", 404)
    for path in ("/nope", "/nope/again", "/wp-admin.php"):
        assert api.get(path).status_code == 404
    assert requests_of(api, "GET", "<unmatched>", 404) == before + 3
    assert api.request("BREW", "/healthz").status_code == 405
    assert requests_of(api, "other", "/healthz", 405) >= 1
    assert "BREW" not in api.get("/metrics").text


def test_latency_is_a_histogram_by_route_and_status(api) -> None:
    labels = {"method": "GET", "route": "/readyz", "status": "200"}
    count = "modeldepot_http_request_duration_seconds_count"
    before = sample(api, count, **labels)
    api.get("/readyz")
    assert sample(api, count, **labels) == before + 1
    bucket = "modeldepot_http_request_duration_seconds_bucket"
    assert sample(api, bucket, le="+Inf", **labels) == before + 1
    assert sample(api, "modeldepot_http_request_duration_seconds_sum", **labels) > 0


def test_blob_bytes_received_and_sent_are_counted(api) -> None:
    data = os.urandom(300_000)
    received = sample(api, "modeldepot_http_received_bytes_total", method="PUT", route=BLOB_ROUTE)
    sent = sample(api, "modeldepot_http_sent_bytes_total", method="GET", route=BLOB_ROUTE)
    digest = put_blob(api, data)
    assert api.get(f"{API}/blobs/{digest}").content == data
    assert sample(
        api, "modeldepot_http_received_bytes_total", method="PUT", route=BLOB_ROUTE
    ) == received + len(data)
    assert sample(
        api, "modeldepot_http_sent_bytes_total", method="GET", route=BLOB_ROUTE
    ) == sent + len(data)


def test_upload_sessions_started_completed_and_active(api) -> None:
    started = sample(api, "modeldepot_upload_sessions_started_total")
    completed = sample(api, "modeldepot_upload_sessions_completed_total")
    data = b"session bytes"
    session = api.post(f"{API}/uploads", json={"digest": digest_of(data), "size": len(data)})
    assert session.status_code == 201, session.text
    assert sample(api, "modeldepot_upload_sessions_started_total") == started + 1
    assert sample(api, "modeldepot_upload_sessions_active") == 1
    upload = f"{API}/uploads/{session.json()['id']}"
    assert api.patch(upload, content=data, headers={"Upload-Offset": "0"}).status_code == 200
    assert api.post(f"{upload}/complete").status_code == 200
    assert sample(api, "modeldepot_upload_sessions_completed_total") == completed + 1
    assert sample(api, "modeldepot_upload_sessions_active") == 0


def test_database_pool_use_is_reported(api, registry) -> None:
    with registry.db.engine.connect():
        assert sample(api, "modeldepot_db_pool_connections", state="checked_out") >= 1
    assert sample(api, "modeldepot_db_pool_size") == registry.db.engine.pool.size()


def test_an_unexpected_error_is_counted_as_500_and_carries_the_request_id(
    api, registry, monkeypatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(registry.models, "list_models", broken)
    before = requests_of(api, "GET", f"{API}/models", 500)
    response = api.get(f"{API}/models", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert response.json()["request_id"] == "trace-500"
    assert requests_of(api, "GET", f"{API}/models", 500) == before + 1


def test_each_app_counts_in_a_registry_of_its_own(registry) -> None:
    with (
        TestClient(create_app(registry.settings, registry)) as first,
        TestClient(create_app(registry.settings, registry)) as second,
    ):
        for _ in range(3):
            first.get("/healthz")
        assert requests_of(first, "GET", "/healthz", 200) == 3
        assert requests_of(second, "GET", "/healthz", 200) == 0


def test_openmetrics_is_served_to_scrapers_that_ask_for_it(api) -> None:
    response = api.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    plain = api.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain")
    assert "modeldepot_build_info" in plain.text
