"""Kept-alive connections: reused when read through, closed otherwise, retried once
when the server closed them as they were taken."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from modeldepot.errors import (
    BlobNotFound,
)
from tests.conftest import make_model_dir
from tests.rawhttp.support import (
    MiB,
    TinyServer,
    body_of,
    canned,
    digest_of,
    drain,
    http_for,
    read_request_head,
)

# Keep-alive ---------------------------------------------------------------------------------


def test_transfers_one_after_another_share_one_kept_alive_connection(
    client, tmp_path: Path, connects: list[tuple[str, int]]
) -> None:
    """Uploads, downloads and refusals read to their end leave the connection reusable."""
    data = os.urandom(2 * MiB + 3)
    source = tmp_path / "blob"
    source.write_bytes(data)
    digest = digest_of(data)
    connects.clear()
    client.http.send_file("PUT", f"/blobs/{digest}", source, 0, len(data), sent=lambda n: None)
    for _ in range(3):
        assert body_of(client.http, f"/blobs/{digest}") == data
    with pytest.raises(BlobNotFound):
        body_of(client.http, f"/blobs/{digest_of(b'absent')}")
    assert body_of(client.http, f"/blobs/{digest}") == data
    assert len(connects) == 1


def test_a_body_left_unread_closes_its_connection(
    client, tmp_path: Path, connects: list[tuple[str, int]]
) -> None:
    """A download abandoned halfway is never handed to the next request."""
    data = os.urandom(3 * MiB)
    client.push(make_model_dir(tmp_path / "m", {"w.bin": data}), "a/m")
    client.http._connections.close()  # start with no idle connection
    connects.clear()
    with client.http.download(f"/blobs/{digest_of(data)}") as response:
        first = next(iter(response.chunks()))
        assert bytes(first) == data[: len(first)]
    assert body_of(client.http, f"/blobs/{digest_of(data)}") == data
    assert len(connects) == 2


def test_a_connection_the_server_closes_while_idle_is_not_reused(
    tiny: Callable[..., TinyServer], connects: list[tuple[str, int]]
) -> None:
    """An idle connection the server ended is noticed when taken: a new one is opened."""
    server = tiny(canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), connections=2)
    http = http_for(server)
    try:
        assert body_of(http, "/blobs/x") == b"hello"
        time.sleep(0.2)  # the tiny server closes each connection after replying
        assert body_of(http, "/blobs/x") == b"hello"
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
                read_request_head(conn),
            ),
            # Second connection: the body arrives whole and is answered.
            lambda conn: (
                drain(conn, 3 * MiB),
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"),
            ),
        ]
    )
    server = tiny(lambda conn: next(replies)(conn), connections=2)
    source = tmp_path / "body"
    source.write_bytes(os.urandom(3 * MiB))
    progress: list[int] = []
    http = http_for(server)
    try:
        assert body_of(http, "/blobs/x") == b"ok"
        http.send_file("PUT", "/blobs/y", source, 0, 3 * MiB, sent=progress.append)
    finally:
        http.close()
    server.join()
    assert len(connects) == 2
    assert sum(progress) == 3 * MiB
    assert [head.split(" ")[0] for head in server.heads] == ["GET", "PUT"]
