"""HTTP over a plain socket: blob bytes with ``sendfile`` up, ``recv_into`` down.

httpx moves a body in 64 KiB reads, each through several layers of Python, and sends
one by reading the file into memory first; for a 1 GiB model that is most of the
client's CPU. For plain ``http://`` URLs with no proxy, blob transfers use sockets of
their own instead:

* a request body is a part of a file, sent with ``sendfile`` after the head (the kernel
  copies it from the page cache to the socket, no pass through Python);
* a response body streams into a few reused buffers with ``recv_into``;
* an API request (a small body given as bytes, or none) costs one write and no import
  of httpx.

A request body of ``CONTINUE_MIN`` bytes or more can wait for the server's ``100
Continue`` (``Expect: 100-continue``): a server that refuses the request from its head
(a wrong upload offset, a session another client holds) then answers before any of the
body is sent, instead of after all of it. A server that never says ``100 Continue``
gets the body after ``CONTINUE_WAIT`` seconds.

Connections are kept alive in ``Connections`` and reused once a response was read to
its end; one left in any other state (a body not read through, a refusal sent while
the request body was still going out) is closed. A request that fails on a reused
connection before any of its body went out (or whose whole body is small) is sent
once more on a new one: the server may have closed the idle connection just as it was
taken. One that fails later is not: the server was reading it, and the caller decides.
``https://`` URLs, proxies and responses this module does not read (chunked,
informational other than ``100``) go through httpx (``Unsupported``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
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
# Bodies at least this large may ask for ``100 Continue`` first, and how long to wait
# for it before sending anyway.
CONTINUE_MIN = 1024 * 1024
CONTINUE_WAIT = 1.0
# At most this long to open a connection (as the SDK's httpx clients): an address that
# drops packets fails in seconds, not after a whole read timeout.
CONNECT_TIMEOUT = 10.0


class Unsupported(Exception):
    """This request or response needs httpx; nothing of the body was consumed."""


class Broken(Exception):
    """The connection failed or timed out; what arrived before is still valid."""

    # Whether any of the request's body had started out when it failed.
    body_started = False


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    body_start: bytes = b""
    _sock: socket.socket | None = field(default=None, repr=False)
    _buffers: list[memoryview] = field(default_factory=list, repr=False)
    # Whether the body was read to its end, leaving the connection ready for another.
    complete: bool = field(default=False, repr=False)
    keep_alive: bool = field(default=False, repr=False)

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
        if left is not None and len(self.body_start) > left:
            self.keep_alive = False  # more than the body arrived: do not reuse
        start = self.body_start if left is None else self.body_start[:left]
        if left is not None:
            left -= len(start)
            self.complete = left == 0
        if start:
            yield memoryview(start)
        sock = self._sock
        if sock is None or self.complete:
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
                    self.complete = left == 0
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


class Connections:
    """Idle keep-alive connections by (host, port), at most ``size`` of them. Thread-safe."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._idle: dict[tuple[str, int], list[socket.socket]] = {}
        self._lock = threading.Lock()

    def take(self, address: tuple[str, int]) -> socket.socket | None:
        """An idle connection to ``address`` the server has not closed, if there is one."""
        while True:
            with self._lock:
                idle = self._idle.get(address)
                if not idle:
                    return None
                sock = idle.pop()
            if _still_open(sock):
                return sock
            sock.close()

    def give(self, address: tuple[str, int], sock: socket.socket) -> None:
        with self._lock:
            if sum(len(idle) for idle in self._idle.values()) < self._size:
                self._idle.setdefault(address, []).append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for socks in idle.values():
            for sock in socks:
                sock.close()


def _still_open(sock: socket.socket) -> bool:
    """An idle connection is usable only if nothing arrived on it, not even its end."""
    try:
        sock.setblocking(False)
        try:
            sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False  # end of stream, or bytes nobody asked for
    finally:
        with contextlib.suppress(OSError):
            sock.setblocking(True)


@contextmanager
def request(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    timeout: float,
    body: tuple[int, int, int] | bytes | None = None,
    sent: Callable[[int], None] | None = None,
    connections: Connections | None = None,
    expect_continue: bool = False,
) -> Iterator[RawResponse]:
    """Send ``method url`` and yield the response once its head arrived.

    ``body`` is (fd, offset, length): that part of an open file is the request body,
    sent with ``sendfile``, or bytes, sent with the head. ``sent(n)`` is called as a
    file body goes, and negatively for what must be sent again (after a stale
    connection, or an answer left to httpx). With
    ``expect_continue`` a body of ``CONTINUE_MIN`` bytes or more waits for the server's
    ``100 Continue``. Without ``connections`` the connection is closed after the
    response. Raises ``Broken`` when the connection fails, ``Unsupported`` for
    responses left to httpx.
    """
    parts = urlsplit(url)
    address = (parts.hostname or "", parts.port or 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    length = len(body) if isinstance(body, bytes) else body[2] if body is not None else None
    wait = expect_continue and length is not None and length >= CONTINUE_MIN
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if wait:
        lines.append("Expect: 100-continue")
    if connections is None:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if isinstance(body, bytes):
        head, body = head + body, None  # one write: head and body together
    sock = connections.take(address) if connections is not None else None
    while True:
        reused = sock is not None
        if sock is None:
            sock = _connect(address, min(timeout, CONNECT_TIMEOUT))
        counted = [0]

        def count(n: int, counted: list[int] = counted) -> None:
            counted[0] += n
            if sent is not None:
                sent(n)

        try:
            sock.settimeout(timeout)
            response = _exchange(sock, head, body, count, wait=wait)
        except Broken as exc:
            sock.close()
            small = length is None or length < CONTINUE_MIN
            if not reused or (exc.body_started and not small):
                raise
            if sent is not None and counted[0]:
                sent(-counted[0])
            sock = None  # the server had closed it: once more on a new connection
            continue
        except Unsupported:
            sock.close()
            if sent is not None and counted[0]:
                sent(-counted[0])  # the caller sends it again through httpx
            raise
        except BaseException:
            sock.close()
            raise
        break
    try:
        yield response
    finally:
        if connections is not None and response.complete and response.keep_alive:
            connections.give(address, sock)
        else:
            sock.close()


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except OSError as exc:
        raise Broken(str(exc) or type(exc).__name__) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _exchange(
    sock: socket.socket,
    head: bytes,
    body: tuple[int, int, int] | None,
    sent: Callable[[int], None],
    *,
    wait: bool = False,
) -> RawResponse:
    """Send the request, return the response's head (its body still to read).

    With ``wait``, the body goes only after the server's ``100 Continue`` (or after
    ``CONTINUE_WAIT`` of silence); a final answer instead is returned with the body
    unsent, and the connection is not reused."""
    started = False
    try:
        sock.sendall(head)
        if body is not None:
            if wait and (early := _await_continue(sock)) is not None:
                early.keep_alive = False  # the server still expects the body: close
                return early
            started = True
            _send_body(sock, *body, sent=sent)
    except Broken as exc:
        exc.body_started = started
        raise
    except OSError as exc:
        if isinstance(exc, TimeoutError):
            # The server stopped reading: waiting once more for an answer only doubles
            # the time it takes to say so.
            raise _broken(exc, started) from exc
        # The server may have answered early (a refusal) and closed: read that.
        try:
            response = _read_head(sock)
        except (OSError, Broken, Unsupported):
            raise _broken(exc, started) from exc
        response.keep_alive = False  # part of the request body is still unsent
        return response
    try:
        return _read_head(sock)
    except OSError as exc:
        raise _broken(exc, started) from exc
    except Broken as exc:
        exc.body_started = started
        raise


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


def _broken(exc: OSError, body_started: bool) -> Broken:
    broken = Broken(str(exc) or type(exc).__name__)
    broken.body_started = body_started
    return broken


def _await_continue(sock: socket.socket) -> RawResponse | None:
    """Wait for ``100 Continue``: None once it came (or after ``CONTINUE_WAIT`` of
    silence), or the final response the server sent instead."""
    timeout = sock.gettimeout()
    sock.settimeout(CONTINUE_WAIT)
    try:
        first = sock.recv(65536)
    except TimeoutError:
        return None  # a server that does not answer ``Expect``: send the body anyway
    finally:
        sock.settimeout(timeout)
    if not first:
        raise Broken("connection closed before a response arrived")
    try:
        return _read_head(sock, first, stop_at_continue=True)
    except _Continue:
        return None


class _Continue(Exception):
    """The server said ``100 Continue`` and nothing after it yet."""


def _read_head(
    sock: socket.socket, data: bytes = b"", *, stop_at_continue: bool = False
) -> RawResponse:
    """The final response's head from ``sock`` (after ``data``, already received),
    past any ``100 Continue``; with ``stop_at_continue``, ``_Continue`` is raised for
    one that nothing follows yet."""
    while True:
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
        if status != 100 or not version.startswith("HTTP/1."):
            break
        if stop_at_continue and not rest:
            raise _Continue
        data = rest  # an interim answer: the final one follows
    if not version.startswith("HTTP/1.") or status < 200:
        raise Unsupported(status_line)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise Unsupported("chunked response")
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return RawResponse(status, headers, rest, sock, keep_alive=keep_alive)


def _content_length(headers: dict[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise Broken(f"bad Content-Length {value!r}") from None
