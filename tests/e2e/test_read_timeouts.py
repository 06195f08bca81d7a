"""Read timeouts of the real server: half-sent headers get 408 REQUEST_TIMEOUT, a
stalled body is cut (an upload keeps what arrived and resumes), a slow but steady body
is not. The server runs with 1 s timeouts; the bounds asserted are generous."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import ServerProcess, new_server
from tests.e2e.test_intake import (
    Connection,
    append,
    assert_stored,
    complete,
    offset_of,
    open_session,
    patch_head,
    request_head,
)

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
TIMEOUT = 1.0
CUT_WITHIN = 8.0  # seconds: far above the 1 s timeouts, far below "held for ever"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = new_server(tmp_path_factory.mktemp("timeouts"), None)
    process.env["MODELDEPOT_HEADER_TIMEOUT_SECONDS"] = str(TIMEOUT)
    process.env["MODELDEPOT_BODY_TIMEOUT_SECONDS"] = str(TIMEOUT)
    # Requests written byte by byte carry no token (see test_intake's server).
    process.env["MODELDEPOT_ANONYMOUS"] = "write"
    try:
        yield process.start()
    finally:
        process.close()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=20) as client:
        yield client


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes ``sock`` within ``seconds``, and what it sent first."""
    sock.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            piece = sock.recv(65536)
            if not piece:
                return True, received
            received += piece
    except ConnectionResetError:
        return True, received
    except TimeoutError:
        pass
    return False, received


def test_half_sent_headers_are_answered_408_request_timeout_and_closed(
    server: ServerProcess,
) -> None:
    with Connection(server.port) as conn:
        conn.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        closed, sent = closed_within(conn.sock, CUT_WITHIN)
    assert closed
    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"content-type: application/problem+json" in head.lower()
    assert b'"code": "REQUEST_TIMEOUT"' in body


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        assert closed_within(sock, CUT_WITHIN) == (True, b"")


def test_a_json_body_declared_and_never_sent_is_cut(server: ServerProcess) -> None:
    with Connection(server.port) as conn:
        conn.send(
            request_head(
                "POST", "/api/v1/models", "Content-Type: application/json", "Content-Length: 100"
            )
        )
        closed, _ = closed_within(conn.sock, CUT_WITHIN)
    assert closed
    assert httpx.get(f"{server.url}/healthz", timeout=10).json() == {"status": "ok"}


def test_a_stalled_upload_is_cut_keeps_what_arrived_and_resumes(
    server: ServerProcess, api: httpx.Client
) -> None:
    data = os.urandom(24 * MiB)
    sent = 10 * MiB + 7
    upload_id = open_session(api, data)
    with Connection(server.port) as conn:
        conn.send(patch_head(upload_id, 0, len(data)), data[:sent])
        closed, _ = closed_within(conn.sock, CUT_WITHIN)
    assert closed
    deadline = time.monotonic() + 5
    while offset_of(api, upload_id) != sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert offset_of(api, upload_id) == sent
    assert append(api, upload_id, sent, data[sent:]) == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


def test_a_slow_but_steady_upload_is_not_cut(server: ServerProcess, api: httpx.Client) -> None:
    """Each gap is shorter than the body timeout; the whole takes well over it."""
    data = os.urandom(2 * MiB)
    upload_id = open_session(api, data)
    pieces = [data[at : at + 256 * 1024] for at in range(0, len(data), 256 * 1024)]
    with Connection(server.port) as conn:
        conn.send(patch_head(upload_id, 0, len(data)))
        for piece in pieces:
            time.sleep(TIMEOUT / 2)
            with contextlib.suppress(BrokenPipeError):
                conn.send(piece)
        reply = conn.read_reply()
    assert reply.status == 200, reply.body
    assert reply.json()["offset"] == len(data)
    complete(api, upload_id)
    assert_stored(api, data)
