"""Blob bytes over a plain socket: ``sendfile`` up, ``recv_into`` down.

httpx moves a body in 64 KiB reads, each through several layers of Python, and sends
one by reading the file into memory first; for a 1 GiB model that is most of the
client's CPU. For plain ``http://`` URLs with no proxy, blob transfers use one socket
of their own instead:

* ``send_file`` writes the request head, then the file's bytes with ``sendfile`` (the
  kernel copies them from the page cache to the socket, no pass through Python);
* ``receive`` streams a response body into a few reused buffers with ``recv_into``.

Each request opens its own connection and closes it (``Connection: close``): a blob
transfer is long enough that the handshake is lost in it, and no pooled connection is
ever left in an unknown state. ``https://`` URLs, proxies and responses this module
does not read (chunked, informational) go through httpx as before (``Unsupported``).
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Bytes handed to the caller at a time when receiving, and sent per ``sendfile`` call
# (between two progress updates) when sending.
RECEIVE_CHUNK = 1024 * 1024
SEND_SLICE = 16 * 1024 * 1024
MAX_HEAD = 64 * 1024


class Unsupported(Exception):
    """This request or response needs httpx; nothing of the body was consumed."""


class Broken(Exception):
    """The connection failed or timed out; what arrived before is still valid."""


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    body_start: bytes = b""
    _sock: socket.socket | None = field(default=None, repr=False)
    _buffers: list[memoryview] = field(default_factory=list, repr=False)

    def read(self) -> bytes:
        """The whole body (for small responses: problem documents, upload states)."""
        return b"".join(bytes(chunk) for chunk in self.iter_chunks())

    def iter_chunks(self) -> Iterator[memoryview]:
        """The body in chunks of up to ``RECEIVE_CHUNK`` bytes.

        A chunk is a view of a reused buffer: it stays valid until two more chunks
        have been taken, enough for one consumer step running behind the caller.
        """
        left = _content_length(self.headers)
        if self.status_code in (204, 304):
            left = 0
        start = self.body_start if left is None else self.body_start[:left]
        if start:
            yield memoryview(start)
        if left is not None:
            left -= len(start)
        sock = self._sock
        if sock is None:
            return
        if not self._buffers:
            self._buffers = [memoryview(bytearray(RECEIVE_CHUNK)) for _ in range(3)]
        turn = 0
        while left is None or left > 0:
            buffer = self._buffers[turn]
            filled = 0
            want = RECEIVE_CHUNK if left is None else min(RECEIVE_CHUNK, left)
            while filled < want:
                try:
                    n = sock.recv_into(buffer[filled:want])
                except OSError as exc:  # includes timeouts
                    if filled:
                        yield buffer[:filled]
                    raise Broken(str(exc) or type(exc).__name__) from exc
                if not n:
                    break
                filled += n
            if filled:
                if left is not None:
                    left -= filled
                yield buffer[:filled]
                turn = (turn + 1) % len(self._buffers)
            if filled < want:
                if left is not None and left > 0:
                    raise Broken(f"connection closed with {left} bytes of the body missing")
                return


def usable(url: str) -> bool:
    """Whether ``url`` can go over a plain socket: ``http`` and no proxy for its host."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    proxies = urllib.request.getproxies_environment()
    if not proxies.get("http") and not proxies.get("all"):
        return True
    return bool(urllib.request.proxy_bypass_environment(parts.hostname, proxies))


@contextmanager
def request(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    timeout: float,
    body: tuple[int, int, int] | None = None,
    sent: Callable[[int], None] | None = None,
) -> Iterator[RawResponse]:
    """Send ``method url`` and yield the response once its head arrived.

    ``body`` is (fd, offset, length): that part of an open file is the request body,
    sent with ``sendfile``; ``sent(n)`` is called as it goes. Raises ``Broken`` when
    the connection fails, ``Unsupported`` for responses left to httpx.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {body[2]}")
    lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise Broken(str(exc) or type(exc).__name__) from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(head)
            if body is not None:
                _send_body(sock, *body, sent=sent)
        except OSError as exc:
            # The server may have answered early (a refusal) and closed: read that.
            try:
                response = _read_head(sock)
            except (OSError, Broken, Unsupported):
                raise Broken(str(exc) or type(exc).__name__) from exc
        else:
            try:
                response = _read_head(sock)
            except OSError as exc:
                raise Broken(str(exc) or type(exc).__name__) from exc
        yield response
    finally:
        sock.close()


def _send_body(
    sock: socket.socket, fd: int, offset: int, length: int, *, sent: Callable[[int], None] | None
) -> None:
    with os.fdopen(os.dup(fd), "rb", buffering=0) as fileobj:
        end = offset + length
        while offset < end:
            count = min(SEND_SLICE, end - offset)
            done = sock.sendfile(fileobj, offset, count)
            if not done:
                raise Broken(f"the file ended {end - offset} bytes early")
            offset += done
            if sent is not None:
                sent(done)


def _read_head(sock: socket.socket) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise Broken("response head too large")
        piece = sock.recv(65536)
        if not piece:
            raise Broken("connection closed before a response arrived")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    try:
        version, code, *_ = status_line.split(" ", 2)
        status = int(code)
    except ValueError:
        raise Broken(f"not an HTTP response: {status_line[:80]!r}") from None
    if not version.startswith("HTTP/1.") or status < 200:
        raise Unsupported(status_line)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise Unsupported("chunked response")
    return RawResponse(status, headers, rest, sock)


def _content_length(headers: dict[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise Broken(f"bad Content-Length {value!r}") from None
