"""The body intake of the real server: large upload bodies of declared length received
straight from the socket (``modeldepot.server.intake``), with the connection handed back
to HTTP afterwards.

Protocol-level cases write HTTP/1.1 by hand on a plain socket: keep-alive and
pipelining after an intake, ``Expect: 100-continue``, a client that goes away mid-body,
a body longer than its session, and a chunked body (refused: it has no declared length). Every
upload is completed and downloaded again, so a byte lost, added or moved fails the test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ServerProcess, new_server, received_bytes

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
TIMEOUT = 20.0
PATCH_ROUTE = "/api/v1/uploads/{upload_id}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module: the intake does not depend on the database, nor on
    who sends the bytes (so requests written byte by byte need no token: anonymous
    write, allowed on a loopback address)."""
    process = new_server(tmp_path_factory.mktemp("intake"), None)
    process.env["MODELDEPOT_ANONYMOUS"] = "write"
    try:
        yield process.start()
    finally:
        process.close()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=TIMEOUT) as client:
        yield client


# Plain HTTP/1.1 on a socket ------------------------------------------------------------------


@dataclass
class Reply:
    status_line: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def status(self) -> int:
        return int(self.status_line.split(" ")[1])

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One connection to the server: requests written by hand, replies read in order."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self._unread = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.sock.close()

    def send(self, *parts: bytes) -> None:
        """Write ``parts`` in one ``sendall``."""
        self.sock.sendall(b"".join(parts))

    def read_reply(self) -> Reply:
        """The next response (a body only if it has a Content-Length)."""
        while b"\r\n\r\n" not in self._unread:
            self._fill()
        head, self._unread = self._unread.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._unread) < length:
            self._fill()
        body, self._unread = self._unread[:length], self._unread[length:]
        return Reply(status_line, headers, body)

    def closed_by_server(self) -> bool:
        """Whether the server ends the connection (FIN or RST) at once, with nothing
        more sent: well before uvicorn's keep-alive timeout (5 s) would close it."""
        if self._unread:
            return False
        self.sock.settimeout(2.0)
        try:
            return self.sock.recv(65536) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def _fill(self) -> None:
        piece = self.sock.recv(1024 * 1024)
        if not piece:
            raise AssertionError(f"connection closed by the server; unread: {self._unread!r}")
        self._unread += piece


def request_head(method: str, target: str, *headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def patch_head(upload_id: str, offset: int, length: int, *headers: str) -> bytes:
    return request_head(
        "PATCH",
        f"/api/v1/uploads/{upload_id}",
        f"Upload-Offset: {offset}",
        f"Content-Length: {length}",
        *headers,
    )


def chunked(data: bytes, size: int) -> bytes:
    """``data`` in the chunked transfer coding, in chunks of ``size`` bytes."""
    pieces = [
        b"%x\r\n%s\r\n" % (len(data[at : at + size]), data[at : at + size])
        for at in range(0, len(data), size)
    ]
    return b"".join(pieces) + b"0\r\n\r\n"


# The upload API ------------------------------------------------------------------------------


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def open_session(api: httpx.Client, data: bytes, size: int | None = None) -> str:
    """A new upload session for ``data`` (declared as ``size`` bytes if given)."""
    response = api.post(
        "/uploads", json={"digest": digest_of(data), "size": len(data) if size is None else size}
    )
    assert response.status_code == 201, response.text
    assert response.json()["offset"] == 0
    return str(response.json()["id"])


def offset_of(api: httpx.Client, upload_id: str) -> int:
    response = api.get(f"/uploads/{upload_id}")
    assert response.status_code == 200, response.text
    return int(response.json()["offset"])


def append(api: httpx.Client, upload_id: str, offset: int, body: bytes) -> int:
    """PATCH ``body`` at ``offset``; the session's offset after it."""
    response = api.patch(
        f"/uploads/{upload_id}", content=body, headers={"Upload-Offset": str(offset)}
    )
    assert response.status_code == 200, response.text
    return int(response.json()["offset"])


def complete(api: httpx.Client, upload_id: str) -> None:
    response = api.post(f"/uploads/{upload_id}/complete")
    assert response.status_code == 200, response.text
    assert response.json()["complete"] is True


def assert_stored(api: httpx.Client, data: bytes) -> None:
    """The server serves exactly ``data`` under its digest."""
    response = api.get(f"/blobs/{digest_of(data)}")
    assert response.status_code == 200, response.text
    assert len(response.content) == len(data)
    assert digest_of(response.content) == digest_of(data)


# Tests ---------------------------------------------------------------------------------------


def test_a_large_patch_body_arrives_intact(api: httpx.Client) -> None:
    data = os.urandom(30 * MiB + 17)
    upload_id = open_session(api, data)
    assert append(api, upload_id, 0, data) == len(data)
    assert offset_of(api, upload_id) == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


def test_a_large_put_of_a_whole_blob_arrives_intact(api: httpx.Client) -> None:
    data = os.urandom(24 * MiB + 5)
    response = api.put(f"/blobs/{digest_of(data)}", content=data)
    assert response.status_code == 201, response.text
    assert_stored(api, data)


def test_the_connection_serves_more_requests_after_intakes(
    server: ServerProcess, api: httpx.Client
) -> None:
    """Two intakes in a row, then a plain request, on one kept-alive connection: each
    time the connection went back to HTTP with a fresh parser."""
    data = os.urandom(26 * MiB + 4097)
    half = 13 * MiB + 11
    upload_id = open_session(api, data)
    with Connection(server.port) as conn:
        conn.send(patch_head(upload_id, 0, half), data[:half])
        first = conn.read_reply()
        assert first.status == 200, first.body
        assert first.json()["offset"] == half
        assert first.headers.get("connection") != "close"
        conn.send(patch_head(upload_id, half, len(data) - half), data[half:])
        second = conn.read_reply()
        assert second.status == 200, second.body
        assert second.json()["offset"] == len(data)
        conn.send(request_head("GET", f"/api/v1/uploads/{upload_id}"))
        state = conn.read_reply()
        assert state.status == 200, state.body
        assert (state.json()["id"], state.json()["offset"]) == (upload_id, len(data))
    complete(api, upload_id)
    assert_stored(api, data)


def test_a_request_pipelined_right_after_a_body_is_answered_in_order(
    server: ServerProcess, api: httpx.Client
) -> None:
    """The intake stops at the body's last byte: the next request is left for HTTP."""
    data = os.urandom(24 * MiB + 3)
    upload_id = open_session(api, data)
    with Connection(server.port) as conn:
        conn.send(
            patch_head(upload_id, 0, len(data)),
            data,
            request_head("GET", "/healthz"),
            request_head("GET", f"/api/v1/uploads/{upload_id}"),
        )
        patched = conn.read_reply()
        assert patched.status == 200, patched.body
        assert patched.json()["offset"] == len(data)
        health = conn.read_reply()
        assert (health.status, health.json()) == (200, {"status": "ok"})
        state = conn.read_reply()
        assert state.status == 200, state.body
        assert state.json()["offset"] == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


def test_expect_100_continue_is_answered_before_the_body_is_sent(
    server: ServerProcess, api: httpx.Client
) -> None:
    data = os.urandom(20 * MiB + 99)
    upload_id = open_session(api, data)
    with Connection(server.port) as conn:
        conn.send(patch_head(upload_id, 0, len(data), "Expect: 100-continue"))
        interim = conn.read_reply()
        assert interim.status_line == "HTTP/1.1 100 Continue"
        assert interim.body == b""
        conn.send(data)
        final = conn.read_reply()
        assert final.status == 200, final.body
        assert final.json()["offset"] == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


@pytest.mark.parametrize(
    "sent",
    [10 * MiB + 123, MiB + 5],
    ids=["most-of-it-through-the-intake", "all-of-it-before-the-endpoint-asks"],
)
def test_a_body_cut_short_by_the_client_keeps_what_arrived_and_resumes(
    server: ServerProcess, api: httpx.Client, sent: int
) -> None:
    """Of 30 MiB announced, ``sent`` bytes arrive and the client closes. The second case
    ends before the endpoint takes the body: the server has read it all, and the end."""
    data = os.urandom(30 * MiB)
    upload_id = open_session(api, data)
    with Connection(server.port) as conn:
        conn.send(patch_head(upload_id, 0, len(data)), data[:sent])
    # The server writes what arrived once it sees the connection end.
    deadline = time.monotonic() + 5
    while (offset := offset_of(api, upload_id)) != sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert offset == sent
    time.sleep(0.2)
    assert offset_of(api, upload_id) == sent
    assert append(api, upload_id, sent, data[sent:]) == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


def test_a_body_past_the_declared_size_is_refused_and_its_connection_closed(
    server: ServerProcess, api: httpx.Client
) -> None:
    """The body is dropped, never read as a request; the session keeps none of it (its
    offset stays where it was) and can be finished."""
    data = os.urandom(8 * MiB)
    too_long = data + os.urandom(16 * MiB)
    upload_id = open_session(api, data)
    with Connection(server.port) as conn:
        # The server may close before it has read the whole body.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(patch_head(upload_id, 0, len(too_long)), too_long)
        refused = conn.read_reply()
        assert refused.status == 400, refused.body
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "SIZE_MISMATCH"
        assert conn.closed_by_server()
    assert httpx.get(f"{server.url}/healthz", timeout=TIMEOUT).json() == {"status": "ok"}
    assert offset_of(api, upload_id) == 0
    assert append(api, upload_id, 0, data[:MiB]) == MiB
    with Connection(server.port) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(patch_head(upload_id, MiB, len(too_long)), too_long)
        assert conn.read_reply().json()["code"] == "SIZE_MISMATCH"
    assert offset_of(api, upload_id) == MiB
    assert append(api, upload_id, MiB, data[MiB:]) == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


def test_an_upload_resumed_at_an_unaligned_offset_is_stored_intact(api: httpx.Client) -> None:
    data = os.urandom(5000 + 20 * MiB)
    upload_id = open_session(api, data)
    assert append(api, upload_id, 0, data[:5000]) == 5000
    assert append(api, upload_id, 5000, data[5000:]) == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


def test_bytes_taken_by_the_intake_are_counted_in_the_metrics(
    server: ServerProcess, api: httpx.Client
) -> None:
    data = os.urandom(20 * MiB + 7)
    upload_id = open_session(api, data)
    before = received_bytes(server, "PATCH", PATCH_ROUTE)
    assert append(api, upload_id, 0, data) == len(data)
    # The request is recorded just after its response went out: allow a moment.
    deadline = time.monotonic() + 5
    while (after := received_bytes(server, "PATCH", PATCH_ROUTE)) < before + len(data):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert after - before == len(data)


def test_a_chunked_body_is_refused_and_keeps_nothing(
    server: ServerProcess, api: httpx.Client
) -> None:
    """Without a declared length a PATCH could only be refused after part of it was
    kept, so it is refused from its head."""
    data = os.urandom(9 * MiB + 5)
    upload_id = open_session(api, data)
    with Connection(server.port) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(
                request_head(
                    "PATCH",
                    f"/api/v1/uploads/{upload_id}",
                    "Upload-Offset: 0",
                    "Transfer-Encoding: chunked",
                ),
                chunked(data + b"past the end", MiB + 1),
            )
        refused = conn.read_reply()
        assert refused.status == 400, refused.body
        assert refused.json()["code"] == "INVALID_INPUT"
    assert offset_of(api, upload_id) == 0
    assert append(api, upload_id, 0, data) == len(data)
    complete(api, upload_id)
    assert_stored(api, data)


def test_concurrent_large_uploads_all_arrive_intact(server: ServerProcess) -> None:
    blobs = [os.urandom(16 * MiB) for _ in range(4)]

    def upload(data: bytes) -> None:
        with httpx.Client(base_url=f"{server.url}/api/v1", timeout=TIMEOUT) as api:
            upload_id = open_session(api, data)
            assert append(api, upload_id, 0, data) == len(data)
            complete(api, upload_id)
            assert_stored(api, data)

    with ThreadPoolExecutor(len(blobs)) as pool:
        for done in [pool.submit(upload, data) for data in blobs]:
            done.result()
