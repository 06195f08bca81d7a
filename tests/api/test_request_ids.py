"""Request ids and structured logs: every answer and every log line of a request
carries its id; the JSON access log has one line per request."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from modeldepot.server.app import create_app
from modeldepot.server.logs import (
    ACCESS_LOGGER,
    JsonFormatter,
    RequestIdFilter,
    logging_config,
)
from modeldepot.server.requestid import MAX_LENGTH
from tests.api.helpers import API, as_user, assert_problem, push
from tests.api.test_health import UnreachableStore

GENERATED = re.compile(r"[0-9a-f]{32}")


class JsonLines:
    """JSON log lines of one logger, formatted as ``modeldepot serve`` formats them."""

    def __init__(self, logger: logging.Logger) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())
        self.handler.addFilter(RequestIdFilter())
        self.logger = logger

    def __enter__(self) -> JsonLines:
        self.level = self.logger.level
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def server_log() -> Iterator[JsonLines]:
    with JsonLines(logging.getLogger("modeldepot.server")) as lines:
        yield lines


def test_an_incoming_request_id_is_answered_and_put_in_problems(api) -> None:
    response = api.get(f"{API}/models/none/such", headers={"X-Request-ID": "lb-7f3a.2:9"})
    body = assert_problem(response, 404, "MODEL_NOT_FOUND")
    assert response.headers["x-request-id"] == "lb-7f3a.2:9"
    assert body["request_id"] == "lb-7f3a.2:9"


def test_a_request_without_an_id_gets_a_new_one_each_time(api) -> None:
    ids = {api.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(GENERATED.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    "unsafe",
    [
        "x" * (MAX_LENGTH + 1),
        "has space",
        'quote"injection',
        "semi;colon",
        "tab\there",
        "naïve",
    ],
)
def test_an_unsafe_incoming_id_is_replaced_never_echoed(api, unsafe: str) -> None:
    response = api.get("/healthz", headers={"X-Request-ID": unsafe.encode()})
    assert response.status_code == 200
    assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_the_longest_safe_id_is_kept(api) -> None:
    longest = "a" * MAX_LENGTH
    assert api.get("/healthz", headers={"X-Request-ID": longest}).headers["x-request-id"] == longest


def test_log_lines_written_in_a_worker_thread_carry_the_request_id(
    api, registry, server_log
) -> None:
    api.app.state.registry = type(registry)(registry.db, UnreachableStore(), registry.settings)
    response = api.get("/readyz", headers={"X-Request-ID": "probe-1"})
    assert response.status_code == 503
    (line,) = server_log.lines()
    assert line["request_id"] == "probe-1"
    assert line["level"] == "warning" and line["logger"] == "modeldepot.server"
    assert line["message"] == "readiness check blobstore failed"
    assert "OSError: store unreachable" in str(line["exception"])


def test_an_unexpected_error_is_logged_with_its_request_id(
    api, registry, server_log, monkeypatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(registry.models, "list_models", broken)
    response = api.get(f"{API}/models")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    (line,) = server_log.lines()
    assert line["request_id"] == request_id
    assert line["level"] == "error"
    assert "RuntimeError: a bug" in str(line["exception"])


@pytest.fixture
def json_app(registry, admin_token: str) -> Iterator[TestClient]:
    """An app configured for JSON logs, which writes the access log itself (sending the
    admin's token)."""
    settings = replace(registry.settings, log_format="json")
    app = create_app(settings, registry)
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        yield client


def test_json_access_log_has_one_line_per_request_with_its_fields(json_app) -> None:
    with JsonLines(logging.getLogger(ACCESS_LOGGER)) as access:
        push(json_app, "team/churn", {"model.bin": b"weights" * 100})
        alice = as_user(json_app, "alice", "reader")
        response = json_app.get(f"{API}/whoami", headers={"X-Request-ID": "read-1", **alice})
    lines = access.lines()
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("PUT", f"{API}/blobs/{{digest}}", 201),
        ("POST", f"{API}/models/{{name}}/-/versions", 201),
        ("GET", f"{API}/whoami", 200),
    ]
    put, _, read = lines
    assert put["bytes_received"] == 700
    assert read["request_id"] == "read-1" == response.headers["x-request-id"]
    # The principal the token authenticated, never a header's claim; never the token.
    assert read["actor"] == "alice"
    assert alice["Authorization"].split()[1] not in json.dumps(lines)
    assert read["path"] == f"{API}/whoami"
    assert read["bytes_sent"] == len(response.content)
    assert isinstance(read["duration_ms"], float) and read["duration_ms"] > 0
    assert read["logger"] == ACCESS_LOGGER and read["level"] == "info"


def test_text_format_writes_no_access_log_of_its_own(api) -> None:
    with JsonLines(logging.getLogger(ACCESS_LOGGER)) as access:
        api.get("/healthz")
    assert access.lines() == []


def test_a_json_line_is_one_line_whatever_the_message() -> None:
    record = logging.LogRecord("modeldepot.x", logging.INFO, __file__, 1, "a\nb %s", ("ü",), None)
    record.request_id = None
    text = JsonFormatter().format(record)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "a\nb ü" and "request_id" not in entry
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])


def test_log_formats_are_text_and_json_only() -> None:
    json_config = logging_config("json", "info")
    assert json_config["loggers"]["uvicorn.access"] == {"handlers": [], "propagate": False}
    assert json_config["loggers"]["modeldepot"]["level"] == "INFO"
    assert "request_id" in logging_config("text", "debug")["filters"]
    with pytest.raises(ValueError, match="log format 'xml' is not one of text, json"):
        logging_config("xml", "info")
