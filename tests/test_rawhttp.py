"""Blob bytes over a plain socket (``client.rawhttp``) and its use by ``Http``.

Against the real server over loopback for the ordinary cases; against tiny socket
servers in a thread, answering canned bytes, for what a server rarely does.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modeldepot.client import rawhttp
from modeldepot.client.http import ACTOR_HEADER, Http
from modeldepot.errors import (
    BlobNotFound,
    DigestMismatch,
    ModeldepotError,
    ServerUnreachable,
    UploadOffsetMismatch,
)
from tests.conftest import free_port, make_model_dir

MiB = 1024 * 1024
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def raw_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(method, url) of every request that went over a plain socket."""
    calls: list[tuple[str, str]] = []
    real = rawhttp.request

    def recording(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        calls.append((method, url))
        return real(method, url, headers, **kwargs)

    monkeypatch.setattr(rawhttp, "request", recording)
    return calls


class TinyServer:
    """A loopback server that answers ``connections`` connections, one at a time.

    Each connection's request head is read and kept in ``heads``; then ``reply(conn)``
    answers it, and the connection is closed.
    """

    def __init__(self, reply: Callable[[socket.socket], None], connections: int = 1) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self._reply = reply
        self._connections = connections
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.heads: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with self._listener:
            for _ in range(self._connections):
                try:
                    conn, _ = self._listener.accept()
                except OSError:
                    return
                with conn:
                    conn.settimeout(10)
                    try:
                        self.heads.append(_read_request_head(conn))
                        self._reply(conn)
                    except OSError:
                        pass  # the client went away first: its side is what is tested

    def join(self) -> None:
        self._thread.join(10)


def _read_request_head(conn: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            break
        data += piece
    return data.partition(b"\r\n\r\n")[0].decode("latin-1")


def _canned(response: bytes) -> Callable[[socket.socket], None]:
    return lambda conn: conn.sendall(response)


def _header_names(head: str) -> set[str]:
    return {line.partition(":")[0].strip().lower() for line in head.split("\r\n")[1:]}


@pytest.fixture
def tiny() -> Iterator[Callable[..., TinyServer]]:
    servers: list[TinyServer] = []

    def start(reply: Callable[[socket.socket], None], connections: int = 1) -> TinyServer:
        server = TinyServer(reply, connections)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.join()


def _http(server: TinyServer, timeout: float = 5) -> Http:
    return Http(server.url, actor="t", timeout=timeout)


def _body_of(http: Http, target: str, **kwargs: Any) -> bytes:
    with http.download(target, **kwargs) as response:
        return b"".join(bytes(chunk) for chunk in response.chunks())


# Choosing the path ------------------------------------------------------------------------


def test_plain_http_without_a_proxy_goes_over_a_socket_and_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only http:// URLs whose host no proxy from the environment claims use the socket."""
    url = "http://127.0.0.1:1234/x"
    assert rawhttp.usable(url)
    assert not rawhttp.usable("https://127.0.0.1:1234/x")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert not rawhttp.usable(url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert rawhttp.usable(url)
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example:3128")
    assert not rawhttp.usable(url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert rawhttp.usable(url)


def test_a_sessions_raw_transfers_follow_the_same_rule_for_its_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Http.raw_transfers`` is on for a plain http base URL only while no proxy claims it."""

    def raw(base_url: str) -> bool:
        http = Http(base_url, actor=None, timeout=1)
        http.close()
        return http.raw_transfers

    assert raw("http://127.0.0.1:1234")
    assert not raw("https://127.0.0.1:1234")
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    assert not raw("http://127.0.0.1:1234")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert raw("http://127.0.0.1:1234")


# Against the real server --------------------------------------------------------------------


def test_a_blob_downloads_whole_and_from_an_offset_over_the_socket(
    client, tmp_path: Path, raw_calls: list[tuple[str, str]]
) -> None:
    """A pushed multi-MiB blob of unaligned size comes back exact, whole or as a 206 tail."""
    data = os.urandom(3 * MiB + 12_345)
    digest = _digest(data)
    client.push(make_model_dir(tmp_path / "m", {"w.bin": data}), "a/m")
    raw_calls.clear()
    with client.http.download(f"/blobs/{digest}") as response:
        assert response.status_code == 200
        assert b"".join(bytes(chunk) for chunk in response.chunks()) == data
    start = MiB + 7
    with client.http.download(f"/blobs/{digest}", headers={"Range": f"bytes={start}-"}) as tail:
        assert tail.status_code == 206
        assert b"".join(bytes(chunk) for chunk in tail.chunks()) == data[start:]
    assert [method for method, url in raw_calls] == ["GET", "GET"]
    assert all(url.endswith(f"/api/v1/blobs/{digest}") for _, url in raw_calls)


def test_downloading_an_unknown_blob_raises_blob_not_found(
    client, raw_calls: list[tuple[str, str]]
) -> None:
    """The server's 404 BLOB_UNKNOWN, read off the socket, becomes BlobNotFound."""
    with pytest.raises(BlobNotFound), client.http.download(f"/blobs/{_digest(b'nope')}"):
        pass
    assert len(raw_calls) == 1


def test_send_file_stores_the_blob_and_reports_every_byte_sent(
    client, tmp_path: Path, raw_calls: list[tuple[str, str]]
) -> None:
    """A monolithic PUT with ``sendfile`` stores the blob; ``sent`` totals its size exactly."""
    # 17 MiB is more than one ``sendfile`` slice, so progress comes in several reports.
    data = os.urandom(rawhttp.SEND_SLICE + MiB + 5)
    digest = _digest(data)
    path = tmp_path / "blob"
    path.write_bytes(data)
    reports: list[int] = []
    http = client.http
    assert http.request("POST", "/blobs/missing", json={"digests": [digest]}).json() == {
        "missing": [digest]
    }
    http.send_file("PUT", f"/blobs/{digest}", path, 0, len(data), sent=reports.append)
    assert sum(reports) == len(data) and len(reports) >= 2
    assert raw_calls == [("PUT", f"{http.base_url}/api/v1/blobs/{digest}")]
    missing = http.request("POST", "/blobs/missing", json={"digests": [digest]}).json()
    assert missing == {"missing": []}
    assert _body_of(http, f"/blobs/{digest}") == data


def test_send_file_sends_exactly_the_window_of_the_file_it_is_given(client, tmp_path: Path) -> None:
    """``offset`` and ``length`` pick the bytes sent: the stored blob is that slice."""
    data = os.urandom(4 * MiB)
    offset, length = MiB + 3, 2 * MiB + 1
    part = data[offset : offset + length]
    path = tmp_path / "blob"
    path.write_bytes(data)
    reports: list[int] = []
    client.http.send_file(
        "PUT", f"/blobs/{_digest(part)}", path, offset, length, sent=reports.append
    )
    assert sum(reports) == length
    assert _body_of(client.http, f"/blobs/{_digest(part)}") == part


def test_send_file_with_bytes_that_do_not_match_the_digest_raises_digest_mismatch(
    client, tmp_path: Path
) -> None:
    """The server verifies a monolithic PUT at its end; its 400 becomes DigestMismatch."""
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(2 * MiB + 1))
    wrong = _digest(b"something else")
    with pytest.raises(DigestMismatch):
        client.http.send_file("PUT", f"/blobs/{wrong}", path, 0, 2 * MiB + 1, sent=lambda n: None)
    missing = client.http.request("POST", "/blobs/missing", json={"digests": [wrong]}).json()
    assert missing == {"missing": [wrong]}


def test_a_refusal_sent_before_the_body_is_read_raises_the_domain_error(
    client, tmp_path: Path, raw_calls: list[tuple[str, str]]
) -> None:
    """A 409 sent before the body is read raises UploadOffsetMismatch, not ServerUnreachable."""
    # 24 MiB is more than loopback socket buffers hold: the server closes (a reset, as it
    # leaves bytes unread) while the client is still sending, and the client must read
    # the answer that arrived before the reset.
    size = 24 * MiB
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    http = client.http
    session = http.request("POST", "/uploads", json={"digest": _digest(data), "size": size}).json()
    with pytest.raises(UploadOffsetMismatch) as refused:
        http.send_file(
            "PATCH",
            f"/uploads/{session['id']}",
            path,
            0,
            size,
            headers={"Upload-Offset": "12345"},
            sent=lambda n: None,
        )
    assert refused.value.extra.get("offset") == 0
    assert [method for method, _ in raw_calls] == ["PATCH"]
    assert http.request("GET", f"/uploads/{session['id']}").json()["offset"] == 0


# Odd servers ------------------------------------------------------------------------------


def test_a_body_cut_short_yields_what_arrived_then_raises_server_unreachable(tiny) -> None:
    """Content-Length 100, 50 bytes, then EOF: the 50 bytes come out, then the error."""
    server = tiny(
        _canned(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50),
    )
    http = _http(server)
    got: list[bytes] = []
    try:
        with pytest.raises(ServerUnreachable), http.download("/blobs/x") as response:
            for chunk in response.chunks():
                got.append(bytes(chunk))
    finally:
        http.close()
    assert b"".join(got) == b"x" * 50


def test_a_chunked_response_is_read_again_through_httpx(tiny) -> None:
    """Chunked is left to httpx: the server sees two requests and the body comes out whole."""
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
    )
    server = tiny(_canned(response), connections=2)
    http = _http(server)
    try:
        assert _body_of(http, "/blobs/x") == b"hello, world"
    finally:
        http.close()
    server.join()
    assert len(server.heads) == 2
    for head in server.heads:
        assert head.startswith("GET /api/v1/blobs/x HTTP/1.1\r\n")
        assert ACTOR_HEADER.lower() in _header_names(head)


def test_a_body_without_length_is_read_until_the_connection_closes(tiny) -> None:
    """No Content-Length and ``Connection: close``: every byte up to EOF is the body."""
    body = os.urandom(2 * MiB + 99)
    server = tiny(_canned(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body))
    http = _http(server)
    try:
        assert _body_of(http, "/blobs/x") == body
    finally:
        http.close()


def test_a_problem_with_an_unknown_code_keeps_that_code(tiny) -> None:
    """A problem with a code the client does not know raises ModeldepotError with that code."""
    problem = b'{"code": "SOME_CODE", "detail": "boom"}'
    server = tiny(
        _canned(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/problem+json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(problem), problem)
        )
    )
    http = _http(server)
    try:
        with pytest.raises(ModeldepotError) as raised, http.download("/blobs/x"):
            pass
    finally:
        http.close()
    assert type(raised.value) is ModeldepotError
    assert (raised.value.code, raised.value.detail) == ("SOME_CODE", "boom")
    server.join()
    assert ACTOR_HEADER.lower() in _header_names(server.heads[0])


def test_a_refused_connection_raises_server_unreachable() -> None:
    """Nothing listening on the port: ServerUnreachable."""
    http = Http(f"http://127.0.0.1:{free_port()}", actor="t", timeout=5)
    try:
        with pytest.raises(ServerUnreachable), http.download("/blobs/x"):
            pass
    finally:
        http.close()


def test_a_store_refusal_names_the_s3_error_code_and_gets_no_modeldepot_headers(tiny) -> None:
    """A store's 403 raises ServerUnreachable naming S3's code; no actor header is sent."""
    xml = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>"
    server = tiny(
        _canned(
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(xml), xml)
        )
    )
    http = Http("http://127.0.0.1:1", actor="t", timeout=5)
    try:
        url = f"{server.url}/bucket/key?X-Amz-Signature=abc"
        with (
            pytest.raises(ServerUnreachable, match="AccessDenied"),
            http.download(url, store=True),
        ):
            pass
    finally:
        http.close()
    server.join()
    assert server.heads[0].startswith("GET /bucket/key?X-Amz-Signature=abc HTTP/1.1\r\n")
    assert ACTOR_HEADER.lower() not in _header_names(server.heads[0])


def test_a_server_that_never_answers_times_out_as_server_unreachable(tiny) -> None:
    """A connection accepted but never answered ends after the session's timeout."""
    answered = threading.Event()
    server = tiny(lambda conn: answered.wait(10))
    http = _http(server, timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(ServerUnreachable), http.download("/blobs/x"):
            pass
    finally:
        http.close()
        answered.set()
    assert time.monotonic() - started < 2.5


# The buffers --------------------------------------------------------------------------------


def test_a_chunk_stays_intact_until_two_more_are_taken(tiny) -> None:
    """The next chunk never overwrites the last two taken, and at most three buffers exist."""
    body = os.urandom(5 * MiB + 321)
    server = tiny(_canned(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body))
    held: list[tuple[memoryview, int]] = []
    buffers: set[int] = set()
    position = 0
    with rawhttp.request("GET", f"{server.url}/x", {}, timeout=5) as response:
        for chunk in response.iter_chunks():
            for older, at in held:
                assert bytes(older) == body[at : at + len(older)]
            assert bytes(chunk) == body[position : position + len(chunk)]
            if isinstance(chunk.obj, bytearray):
                buffers.add(id(chunk.obj))
            held = [*held, (chunk, position)][-2:]
            position += len(chunk)
    assert position == len(body)
    assert 1 <= len(buffers) <= 3


# Keep-alive ---------------------------------------------------------------------------------


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The addresses ``rawhttp`` opened new connections to."""
    opened: list[tuple[str, int]] = []
    real = rawhttp._connect

    def recording(address: tuple[str, int], timeout: float) -> socket.socket:
        opened.append(address)
        return real(address, timeout)

    monkeypatch.setattr(rawhttp, "_connect", recording)
    return opened


def test_transfers_one_after_another_share_one_kept_alive_connection(
    client, tmp_path: Path, connects: list[tuple[str, int]]
) -> None:
    """Uploads, downloads and refusals read to their end leave the connection reusable."""
    data = os.urandom(2 * MiB + 3)
    source = tmp_path / "blob"
    source.write_bytes(data)
    digest = _digest(data)
    connects.clear()
    client.http.send_file("PUT", f"/blobs/{digest}", source, 0, len(data), sent=lambda n: None)
    for _ in range(3):
        assert _body_of(client.http, f"/blobs/{digest}") == data
    with pytest.raises(BlobNotFound):
        _body_of(client.http, f"/blobs/{_digest(b'absent')}")
    assert _body_of(client.http, f"/blobs/{digest}") == data
    assert len(connects) == 1


def test_a_body_left_unread_closes_its_connection(
    client, tmp_path: Path, connects: list[tuple[str, int]]
) -> None:
    """A download abandoned halfway is never handed to the next request."""
    data = os.urandom(3 * MiB)
    client.push(make_model_dir(tmp_path / "m", {"w.bin": data}), "a/m")
    client.http._connections.close()  # start with no idle connection
    connects.clear()
    with client.http.download(f"/blobs/{_digest(data)}") as response:
        first = next(iter(response.chunks()))
        assert bytes(first) == data[: len(first)]
    assert _body_of(client.http, f"/blobs/{_digest(data)}") == data
    assert len(connects) == 2


def test_a_connection_the_server_closes_while_idle_is_not_reused(
    tiny: Callable[..., TinyServer], connects: list[tuple[str, int]]
) -> None:
    """An idle connection the server ended is noticed when taken: a new one is opened."""
    server = tiny(_canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), connections=2)
    http = _http(server)
    try:
        assert _body_of(http, "/blobs/x") == b"hello"
        time.sleep(0.2)  # the tiny server closes each connection after replying
        assert _body_of(http, "/blobs/x") == b"hello"
    finally:
        http.close()
    assert len(connects) == 2
    assert len(server.heads) == 2


def test_a_request_lost_on_a_reused_connection_is_sent_once_more_on_a_new_one(
    tiny: Callable[..., TinyServer], connects: list[tuple[str, int]], tmp_path: Path
) -> None:
    """The server closes a kept-alive connection just as the next request arrives: that
    request, upload body included, goes again on a new connection, and progress is
    counted once."""
    replies = iter(
        [
            # First connection: one answer, then the next request is read and dropped.
            lambda conn: (
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                _read_request_head(conn),
            ),
            # Second connection: the body arrives whole and is answered.
            lambda conn: (
                _drain(conn, 3 * MiB),
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"),
            ),
        ]
    )
    server = tiny(lambda conn: next(replies)(conn), connections=2)
    source = tmp_path / "body"
    source.write_bytes(os.urandom(3 * MiB))
    progress: list[int] = []
    http = _http(server)
    try:
        assert _body_of(http, "/blobs/x") == b"ok"
        http.send_file("PUT", "/blobs/y", source, 0, 3 * MiB, sent=progress.append)
    finally:
        http.close()
    server.join()
    assert len(connects) == 2
    assert sum(progress) == 3 * MiB
    assert [head.split(" ")[0] for head in server.heads] == ["GET", "PUT"]


def _drain(conn: socket.socket, size: int) -> None:
    left = size
    while left > 0:
        piece = conn.recv(min(left, MiB))
        if not piece:
            return
        left -= len(piece)
