"""What a server rarely does, from tiny socket servers: cut bodies, chunked or
close-delimited answers, unknown problems, silence; and the reused buffers."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modeldepot.client import rawhttp
from modeldepot.client.http import Http
from modeldepot.errors import (
    ModeldepotError,
    ServerUnreachable,
)
from tests.conftest import free_port
from tests.rawhttp.support import (
    TOKEN,
    MiB,
    TinyServer,
    body_of,
    canned,
    header_names,
    http_for,
)

# Odd servers ------------------------------------------------------------------------------


def test_a_body_cut_short_yields_what_arrived_then_raises_server_unreachable(tiny) -> None:
    """Content-Length 100, 50 bytes, then EOF: the 50 bytes come out, then the error."""
    server = tiny(
        canned(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50),
    )
    http = http_for(server)
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
    server = tiny(canned(response), connections=2)
    http = http_for(server)
    try:
        assert body_of(http, "/blobs/x") == b"hello, world"
    finally:
        http.close()
    server.join()
    assert len(server.heads) == 2
    for head in server.heads:
        assert head.startswith("GET /api/v1/blobs/x HTTP/1.1\r\n")
        assert "authorization" in header_names(head)


def test_a_body_without_length_is_read_until_the_connection_closes(tiny) -> None:
    """No Content-Length and ``Connection: close``: every byte up to EOF is the body."""
    body = os.urandom(2 * MiB + 99)
    server = tiny(canned(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body))
    http = http_for(server)
    try:
        assert body_of(http, "/blobs/x") == body
    finally:
        http.close()


def test_a_problem_with_an_unknown_code_keeps_that_code(tiny) -> None:
    """A problem with a code the client does not know raises ModeldepotError with that code."""
    problem = b'{"code": "SOME_CODE", "detail": "boom"}'
    server = tiny(
        canned(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/problem+json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(problem), problem)
        )
    )
    http = http_for(server)
    try:
        with pytest.raises(ModeldepotError) as raised, http.download("/blobs/x"):
            pass
    finally:
        http.close()
    assert type(raised.value) is ModeldepotError
    assert (raised.value.code, raised.value.detail) == ("SOME_CODE", "boom")
    server.join()
    assert "authorization" in header_names(server.heads[0])


def test_a_refused_connection_raises_server_unreachable() -> None:
    """Nothing listening on the port: ServerUnreachable."""
    http = Http(f"http://127.0.0.1:{free_port()}", token=TOKEN, timeout=5)
    try:
        with pytest.raises(ServerUnreachable), http.download("/blobs/x"):
            pass
    finally:
        http.close()


def test_a_store_refusal_names_the_s3_error_code_and_gets_no_modeldepot_headers(tiny) -> None:
    """A store's 403 raises ServerUnreachable naming S3's code; no credential is sent."""
    xml = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>"
    server = tiny(
        canned(
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(xml), xml)
        )
    )
    http = Http("http://127.0.0.1:1", token=TOKEN, timeout=5)
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
    # The registry's token never goes to the store.
    assert "authorization" not in header_names(server.heads[0])


def test_a_server_that_never_answers_times_out_as_server_unreachable(tiny) -> None:
    """A connection accepted but never answered ends after the session's timeout."""
    answered = threading.Event()
    server = tiny(lambda conn: answered.wait(10))
    http = http_for(server, timeout=0.5)
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
    server = tiny(canned(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body))
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


def test_an_upload_the_server_stops_reading_fails_after_one_timeout(
    tiny: Callable[..., TinyServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes the head, then neither reads the body nor answers: the send
    times out and the client says so at once, without waiting again for an answer."""
    stop = threading.Event()
    server = tiny(lambda conn: stop.wait(10))
    source = tmp_path / "body"
    source.write_bytes(os.urandom(64 * MiB))  # far more than the socket buffers hold
    heads_read: list[int] = []
    real_read_head = rawhttp._read_head

    def recording_read_head(sock: socket.socket) -> Any:
        heads_read.append(1)
        return real_read_head(sock)

    monkeypatch.setattr(rawhttp, "_read_head", recording_read_head)
    http = http_for(server, timeout=0.5)
    try:
        with pytest.raises(ServerUnreachable, match="timed out"):
            http.send_file("PUT", "/blobs/x", source, 0, 64 * MiB, sent=lambda n: None)
    finally:
        stop.set()
        http.close()
    assert heads_read == []
