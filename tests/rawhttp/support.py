"""Helpers of the ``client.rawhttp`` tests: tiny socket servers answering canned bytes."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from modeldepot.client.http import Http

MiB = 1024 * 1024
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


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
                        self.heads.append(read_request_head(conn))
                        self._reply(conn)
                    except OSError:
                        pass  # the client went away first: its side is what is tested

    def join(self) -> None:
        self._thread.join(10)


def read_request_head(conn: socket.socket) -> str:
    """The request head, read a byte at a time so that no byte of the body is taken."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        piece = conn.recv(1)
        if not piece:
            break
        data += piece
    return data.partition(b"\r\n\r\n")[0].decode("latin-1")


def canned(response: bytes) -> Callable[[socket.socket], None]:
    return lambda conn: conn.sendall(response)


def header_names(head: str) -> set[str]:
    return {line.partition(":")[0].strip().lower() for line in head.split("\r\n")[1:]}


# A well-formed token: the tiny servers only look for it in what they receive.
TOKEN = "mdp_aaaaaaaaaaaa_" + "A" * 43


def http_for(server: TinyServer, timeout: float = 5) -> Http:
    return Http(server.url, token=TOKEN, timeout=timeout)


def body_of(http: Http, target: str, **kwargs: Any) -> bytes:
    with http.download(target, **kwargs) as response:
        return b"".join(bytes(chunk) for chunk in response.chunks())


def drain(conn: socket.socket, size: int) -> None:
    left = size
    while left > 0:
        piece = conn.recv(min(left, MiB))
        if not piece:
            return
        left -= len(piece)
