"""``Expect: 100-continue`` on large uploads to modeldepot: a refusal from the request's
head costs no body bytes, a server that says ``100 Continue`` gets the body at once,
and a request broken part-way through its body is not sent again by ``rawhttp``."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from modeldepot.client import rawhttp
from modeldepot.errors import ServerUnreachable, UploadOffsetMismatch
from tests.rawhttp.support import MiB, TinyServer, drain, http_for, read_request_head

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def file_of(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "body"
    path.write_bytes(os.urandom(size))
    return path


def problem(status: int, code: str, **extra: object) -> bytes:
    body = json.dumps({"title": code, "status": status, "detail": code, "code": code, **extra})
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def body_bytes_within(conn: socket.socket, seconds: float) -> int:
    """Bytes that arrive on ``conn`` within ``seconds``, until it ends."""
    conn.settimeout(seconds)
    got = 0
    try:
        while piece := conn.recv(MiB):
            got += len(piece)
    except TimeoutError:
        pass
    return got


def test_a_refusal_from_the_head_costs_no_body_byte(
    tiny: Callable[..., TinyServer], tmp_path: Path
) -> None:
    received: list[int] = []

    def refuse(conn: socket.socket) -> None:
        conn.sendall(problem(409, "UPLOAD_OFFSET_MISMATCH", offset=7))
        received.append(body_bytes_within(conn, 0.5))

    server = tiny(refuse)
    progress: list[int] = []
    http = http_for(server)
    try:
        with pytest.raises(UploadOffsetMismatch) as refused:
            http.send_file(
                "PATCH", "/uploads/u", file_of(tmp_path, 8 * MiB), 0, 8 * MiB,
                headers={"Upload-Offset": "0"}, sent=progress.append,
            )  # fmt: skip
    finally:
        http.close()
    server.join()
    assert refused.value.extra["offset"] == 7
    assert "expect: 100-continue" in server.heads[0].lower()
    assert (received, sum(progress)) == ([0], 0)


def test_a_server_that_says_100_continue_gets_the_body_at_once(
    tiny: Callable[..., TinyServer], tmp_path: Path
) -> None:
    def accept(conn: socket.socket) -> None:
        conn.sendall(CONTINUE)
        drain(conn, 4 * MiB)
        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")

    server = tiny(accept)
    progress: list[int] = []
    http = http_for(server)
    source = file_of(tmp_path, 4 * MiB)
    started = time.monotonic()
    try:
        http.send_file("PUT", "/blobs/x", source, 0, 4 * MiB, sent=progress.append)
    finally:
        http.close()
    assert time.monotonic() - started < rawhttp.CONTINUE_WAIT / 2
    assert sum(progress) == 4 * MiB


def test_small_bodies_and_uploads_to_the_store_do_not_wait_for_100_continue(
    tiny: Callable[..., TinyServer], tmp_path: Path
) -> None:
    """Below CONTINUE_MIN the wait is not worth it; a blob store gets its body at once."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    def take(size: int) -> Callable[[socket.socket], None]:
        return lambda conn: (drain(conn, size), conn.sendall(ok))

    small = rawhttp.CONTINUE_MIN - 1
    server = tiny(take(small))
    http = http_for(server)
    try:
        http.send_file("PUT", "/blobs/x", file_of(tmp_path, small), 0, small, sent=lambda n: None)
        store = tiny(take(4 * MiB))
        source = file_of(tmp_path, 4 * MiB)
        started = time.monotonic()
        url = f"{store.url}/part"
        http.send_file("PUT", url, source, 0, 4 * MiB, sent=lambda n: None, store=True)
        assert time.monotonic() - started < rawhttp.CONTINUE_WAIT / 2
    finally:
        http.close()
    assert all("expect" not in head.lower() for head in server.heads + store.heads)


def test_a_request_broken_mid_body_on_a_kept_alive_connection_is_not_sent_again(
    tiny: Callable[..., TinyServer], connects: list[tuple[str, int]], tmp_path: Path
) -> None:
    """The server read part of the body, then went away: that is not a stale connection,
    so the caller hears of it (and resumes from the session's offset) instead of rawhttp
    sending the whole body again."""

    def serve(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_request_head(conn)
        conn.sendall(CONTINUE)
        drain(conn, 2 * MiB)
        conn.shutdown(socket.SHUT_RDWR)

    server = tiny(serve, connections=2)
    http = http_for(server)
    try:
        with http.download("/blobs/x") as response:
            assert b"".join(bytes(c) for c in response.chunks()) == b"ok"
        with pytest.raises(ServerUnreachable):
            source = file_of(tmp_path, 64 * MiB)
            http.send_file("PATCH", "/uploads/u", source, 0, 64 * MiB, sent=lambda n: None)
    finally:
        http.close()
    assert len(connects) == 1
