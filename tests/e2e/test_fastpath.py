"""A server on a uvicorn its upload fast path does not know runs uvicorn's stock
protocol, and uploads through it arrive intact.

The unknown uvicorn is pretended with a ``sitecustomize`` module on the server's
``PYTHONPATH`` that changes ``uvicorn.__version__`` before ``modeldepot serve`` runs.
On the fast path, a request that is not valid HTTP is answered with a problem document.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeldepot.client.client import Client
from tests.e2e.conftest import ServerProcess, new_server, server_token

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = new_server(tmp_path / "server", None)
    yield process
    process.close()


def _pretend_uvicorn(server: ServerProcess, version: str, root: Path) -> None:
    shim = root / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(f"import uvicorn\nuvicorn.__version__ = {version!r}\n")
    server.env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(shim), server.env.get("PYTHONPATH")) if p
    )


def _push_and_pull(server: ServerProcess, root: Path) -> None:
    model = root / "model"
    model.mkdir()
    files = {"weights.bin": os.urandom(24 * MiB + 123), "config.json": b'{"layers": 3}'}
    for name, data in files.items():
        (model / name).write_bytes(data)
    with Client(server.url, cache_dir=root / "cache", token=server_token(server)) as md:
        version = md.push(model, "e2e/fastpath")
        md.pull(f"e2e/fastpath:{version.number}", root / "pulled")
    for name, data in files.items():
        assert (root / "pulled" / name).read_bytes() == data


def _protocol_lines(server: ServerProcess) -> list[str]:
    return [line for line in server.log_path.read_text().splitlines() if "HTTP protocol" in line]


def test_an_unknown_uvicorn_serves_uploads_through_the_stock_protocol(
    server: ServerProcess, tmp_path: Path
) -> None:
    _pretend_uvicorn(server, "0.99.0", tmp_path)
    server.start()
    [line] = _protocol_lines(server)
    assert "stock protocol" in line and "0.99.0" in line
    _push_and_pull(server, tmp_path)


def test_the_fast_path_turned_off_serves_uploads_through_the_stock_protocol(
    server: ServerProcess, tmp_path: Path
) -> None:
    server.env["MODELDEPOT_HTTP_FAST_PATH"] = "false"
    server.start()
    [line] = _protocol_lines(server)
    assert "stock protocol" in line and "MODELDEPOT_HTTP_FAST_PATH" in line
    _push_and_pull(server, tmp_path)


def test_a_known_uvicorn_serves_uploads_through_the_fast_path(
    server: ServerProcess, tmp_path: Path
) -> None:
    server.start()
    [line] = _protocol_lines(server)
    assert "upload fast path" in line
    _push_and_pull(server, tmp_path)


def test_a_request_that_is_not_valid_http_gets_a_problem_document(server: ServerProcess) -> None:
    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"PUT /api/v1/blobs/x HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert lines[0].startswith("HTTP/1.1 400")
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert (problem["status"], problem["code"]) == (400, "INVALID_INPUT")
