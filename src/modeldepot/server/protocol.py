"""The HTTP protocol the server runs: uvicorn's httptools protocol, tuned for big bodies.

uvicorn stops reading a connection once 64 KiB of request body wait for the app,
which caps an upload near 350 MB/s here. Letting up to 4 MiB wait instead lifts that
above 1 GB/s; memory per connection stays bounded.

uvicorn also appends each piece of body to a ``bytearray`` and copies that into a new
``bytes`` for the app: two copies of every uploaded byte on the event loop. Here the
pieces are kept as they arrive and joined once when the app asks (not at all when a
single piece waits).

Bodies of declared length on plain connections can also skip uvicorn altogether: the
scope offers a ``BodyIntake`` (``modeldepot.server.intake``) that receives the rest of
the body straight into aligned buffers.

Each connection has read timeouts (``modeldepot.server.readwatch``): half-sent headers
get a 408 and a stalled body is cut, through uvicorn or an intake alike.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from modeldepot.server.intake import EXTENSION, BodyIntake, CutShortBody, Intake
from modeldepot.server.readwatch import HEADERS, ReadTimeouts, ReadWatch, timeout_response

log = logging.getLogger("modeldepot.server")

BODY_BUFFER = 4 * 1024 * 1024
# The same for a body an intake may take over: soon it reads the socket itself.
INTAKE_BUFFER = 1024 * 1024


class _Pieces:
    """Request body waiting for the app: ``+=`` keeps the piece, ``bytes()`` joins."""

    __slots__ = ("_pieces", "_size")

    def __init__(self, start: bytes | bytearray) -> None:
        self._pieces: list[bytes] = [bytes(start)] if start else []
        self._size = len(start)

    def __iadd__(self, piece: bytes) -> _Pieces:
        self._pieces.append(piece)
        self._size += len(piece)
        return self

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        return b"".join(self._pieces)

    def pieces(self) -> list[bytes]:
        return self._pieces


class BulkBodyProtocol(HttpToolsProtocol):
    """Keeps reading until ``BODY_BUFFER`` bytes of request body are waiting; offers
    the rest of a body of declared length to a ``BodyIntake``."""

    _body_seen = 0  # body bytes of the current request given to the app so far
    _body_buffer = BODY_BUFFER  # body bytes allowed to wait for the app
    read_timeouts = ReadTimeouts()
    _watch: ReadWatch
    _intake: BodyIntake | None = None  # the body's intake, while it reads the socket
    _head_begun = False  # some of a request's head arrived, not all of it

    @classmethod
    def with_read_timeouts(cls, timeouts: ReadTimeouts) -> type[BulkBodyProtocol]:
        """This protocol with other read timeouts (uvicorn makes one per connection)."""
        return type(cls.__name__, (cls,), {"read_timeouts": timeouts})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch = ReadWatch(self.loop, self.read_timeouts, self._waiting, self._cut)
        self._watch.headers_begin()

    def connection_lost(self, exc: Exception | None) -> None:
        self._watch.close()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._body_seen = 0
        self._body_buffer = BODY_BUFFER
        self._intake = None
        self._head_begun = True
        self._watch.headers_begin()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._watch.done()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and cycle.more_body:
            # Answered before its body all arrived (a refusal from the head): close,
            # rather than read the rest of a body of any size only to drop it.
            self.transport.close()
        super().on_response_complete()

    def on_headers_complete(self) -> None:
        self._head_begun = False
        self._watch.body_begin()
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope:
            return  # an upgrade, or no cycle was made
        length = _content_length(self.headers)
        if length is None or self.transport.get_extra_info("sslcontext") is not None:
            return
        extensions = self.scope.setdefault("extensions", {})  # type: ignore[typeddict-item]
        extensions[EXTENSION] = functools.partial(self._take_body, cycle, length)
        self._body_buffer = INTAKE_BUFFER

    def _take_body(self, cycle: RequestResponseCycle, length: int) -> Intake | None:
        """Hand the rest of ``cycle``'s body to a ``BodyIntake``, if it is still coming."""
        transport = self.transport
        if self.cycle is not cycle or not cycle.more_body or cycle.response_complete:
            return None
        remaining = length - self._body_seen
        if remaining <= 0:
            return None
        if cycle.disconnected or transport.is_closing():
            # The client went away before the endpoint asked: uvicorn would answer
            # "disconnected" and drop what it read. Hand that over, to be kept.
            return CutShortBody(_taken_pieces(cycle))
        if transport.get_protocol() is not self:
            return None
        if cycle.waiting_for_100_continue:
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        early = _taken_pieces(cycle)
        self.flow.resume_reading()  # the intake pauses and resumes the transport itself
        self._intake = BodyIntake(
            self,
            cycle,
            remaining,
            early,
            functools.partial(self._taken, cycle),
            self._watch.arrived,
        )
        return self._intake

    def _taken(self, cycle: RequestResponseCycle) -> None:
        """An intake received the body's last byte: the next bytes are a new request."""
        self._intake = None
        self._watch.done()
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        cycle.more_body = False
        cycle.message_event.set()

    def on_body(self, body: bytes) -> None:
        self._watch.arrived()
        self._body_seen += len(body)
        cycle = self.cycle
        if cycle is not None and not isinstance(cycle.body, _Pieces):
            cycle.body = _Pieces(cycle.body)  # type: ignore[assignment]
        super().on_body(body)
        if cycle is not None and len(cycle.body) <= self._body_buffer:
            self.flow.resume_reading()

    def send_400_response(self, msg: str) -> None:
        """A request that is not valid HTTP gets a problem document, as every error does
        (uvicorn's own answer is text/plain); the connection is closed after it."""
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Invalid input",
                "status": 400,
                "detail": "the request is not valid HTTP/1.1",
                "code": "INVALID_INPUT",
            }
        ).encode()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _waiting(self) -> bool:
        """Whether the server waits for the client's bytes now (the read timeouts run)."""
        cycle = self.cycle
        if self._watch.phase == HEADERS:
            # A request pipelined behind a response in flight is not read yet.
            return cycle is None or cycle.response_complete
        if self._intake is not None:
            return not self._intake.paused
        if cycle is not None and cycle.waiting_for_100_continue:
            return False  # the client rightly waits for "100 Continue"
        return not self.flow.read_paused

    def _cut(self, phase: str) -> None:
        """A read timeout passed: close the connection (after a 408 for half-sent headers).
        A body cut short keeps what arrived, as when its client goes away."""
        if self.transport.is_closing():
            return
        if phase == HEADERS:
            if self._head_begun:
                self.transport.write(timeout_response(self.read_timeouts.headers))
        else:
            log.info("cut a request body stalled for %s s", self.read_timeouts.body)
        self.transport.close()


def _taken_pieces(cycle: RequestResponseCycle) -> list[bytes]:
    """The body ``cycle`` holds for the app, removed from it."""
    body = cycle.body
    cycle.body = bytearray()
    return body.pieces() if isinstance(body, _Pieces) else [bytes(body)]


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared body length; None for chunked bodies or without a valid one."""
    length = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            if not value.isdigit() or length is not None:
                return None
            length = int(value)
    return length
