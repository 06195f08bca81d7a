"""Receive the rest of a large request body straight from the socket into aligned buffers.

Through uvicorn, every uploaded byte is copied three times on the server before it
reaches the disk: httptools slices it into a new ``bytes``, the pieces are joined
into one body message, and the writer copies that into its aligned buffer. For a blob
upload that is most of the event loop's work. ``BodyIntake`` takes the connection over
for the rest of one body instead: the socket is read (``recv_into``, through asyncio's
``BufferedProtocol``) into a few page-aligned buffers, which go to the writer as they
are (``DirectAppender`` writes them to the disk with no copy at all). Once the body's
last byte arrived, the connection goes back to HTTP, kept alive for the next request.

The protocol (``modeldepot.server.protocol``) offers an intake in the request's scope
when it can: a plain (not TLS) connection, a body of declared length still arriving.
``modeldepot.server.bodies`` takes it with ``body_intake(request)``; without one it
reads the body the usual ASGI way. The ``UploadWriter`` contract makes this safe: a
writer is done with the bytes of one ``write`` once the next ``write`` (or ``close``)
returned, so a buffer is reused only after that.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.types import Scope

from modeldepot.directio import BUFFER, AlignedBuffer, give_buffer, take_buffer

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

EXTENSION = "modeldepot.intake"
# Buffers one body cycles through: one filling, one being written, one being hashed.
RING = 3


class _Offer(Protocol):
    """What the protocol puts in the scope: starts the intake, or None if it cannot."""

    def __call__(self) -> Intake | None: ...


def body_intake(request: Request) -> Intake | None:
    """Take over the rest of ``request``'s body, if the server can hand it over."""
    offer: _Offer | None = request.scope.get("extensions", {}).get(EXTENSION)
    if offer is None:
        return None
    intake = offer()
    if intake is not None:
        request.scope[_TAKEN] = intake
    return intake


_TAKEN = "modeldepot.intake.taken"


def taken_bytes(scope: Scope) -> int:
    """Body bytes of this request received by an intake (they bypass ASGI ``receive``)."""
    intake: Intake | None = scope.get(_TAKEN)
    return intake.received if intake is not None else 0


class BodyIntake(asyncio.BufferedProtocol):
    """The rest of one request body, in order: ``early()`` gives what the HTTP layer
    had already read (``bytes``), then ``next()`` views of aligned buffers the socket
    filled.

    While installed it is the transport's protocol; it hands the connection back to
    ``http`` when the body is complete. Used from the event loop thread only.
    """

    def __init__(
        self,
        http: HttpToolsProtocol,
        cycle: RequestResponseCycle,
        remaining: int,
        early: list[bytes],
        on_complete: Callable[[], None],
        on_read: Callable[[], None] = lambda: None,
    ) -> None:
        self._http = http
        self._cycle = cycle
        self._transport: Any = http.transport
        self._remaining = remaining
        self._on_complete = on_complete
        self._on_read = on_read  # told of each read, for the read timeout
        self._early = [p for p in early if p]
        self._ready: collections.deque[memoryview] = collections.deque()
        self.received = sum(len(p) for p in early)  # counted for metrics
        self._free: list[AlignedBuffer] = []  # taken back, ready to fill again
        self._taken = 0  # buffers taken from the pool, up to RING, as the body needs them
        self._lent: dict[int, AlignedBuffer] = {}  # id(view) -> its buffer, while out
        self._filling: AlignedBuffer | None = None
        self._filled = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._discard: memoryview | None = None
        self.complete = False  # the body's last byte arrived
        self.lost = False  # the connection closed before that
        self._transport.set_protocol(self)

    # Consumer side

    def early(self) -> list[bytes]:
        """The body's first bytes, read by the HTTP layer before the intake began, as
        the pieces that arrived; call it once, before ``next``."""
        early, self._early = self._early, []
        return early

    async def next(self) -> memoryview | None:
        """The next buffer of the body, or None once there are no more (``complete``
        says whether the whole body arrived). Hand every one back with ``release``."""
        while not self._ready:
            if self._done_filling():
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._ready.popleft()

    def release(self, chunk: memoryview) -> None:
        """``chunk`` (from ``next``) is no longer used: its buffer may be filled again."""
        buffer = self._lent.pop(id(chunk), None)
        if buffer is None:
            return
        chunk.release()
        if self._done_filling():
            give_buffer(buffer)
            return
        self._free.append(buffer)
        if self._paused:
            self._paused = False
            self._transport.resume_reading()

    def close(self) -> None:
        """Stop taking the body. If it did not all arrive, the connection cannot carry
        another request: the rest is read and dropped, and it closes after the response."""
        if not self.complete and not self.lost:
            self._cycle.keep_alive = False
            self._discard = memoryview(bytearray(64 * 1024))
            if self._filling is not None:
                give_buffer(self._filling)  # its bytes are dropped too
                self._filling = None
            if self._paused:
                self._paused = False
                self._transport.resume_reading()
        for chunk in self._ready:
            self.release(chunk)
        self._ready.clear()
        self._give_back_idle()

    @property
    def paused(self) -> bool:
        """Reading waits for the consumer to hand a buffer back (not for the client)."""
        return self._paused

    # Transport side (asyncio.BufferedProtocol)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._discard is not None:
            return self._discard[: min(len(self._discard), self._remaining)]
        if self._filling is None:
            if self._free:
                self._filling = self._free.pop()
            else:
                self._filling = take_buffer()
                self._taken += 1
            self._filled = 0
        end = min(BUFFER, self._filled + self._remaining)
        return self._filling.view[self._filled : end]

    def buffer_updated(self, nbytes: int) -> None:
        self._remaining -= nbytes
        self._on_read()
        if self._discard is not None:
            if not self._remaining:
                self._finish()
            return
        self.received += nbytes
        self._filled += nbytes
        if self._filled == BUFFER or not self._remaining:
            self._hand_over_filling()
        if not self._remaining:
            self._finish()
        elif self._filling is None and not self._free and self._taken == RING:
            self._paused = True  # every buffer is with the consumer: wait for one back
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        return self._http.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = not self.complete
        if self._filling is not None and self._filled:
            self._hand_over_filling()  # keep what arrived
        self._wake()
        self._give_back_idle()
        self._http.connection_lost(exc)

    def pause_writing(self) -> None:
        self._http.pause_writing()

    def resume_writing(self) -> None:
        self._http.resume_writing()

    # Inside

    def _hand_over_filling(self) -> None:
        assert self._filling is not None
        view = self._filling.view[: self._filled]
        self._lent[id(view)] = self._filling
        self._ready.append(view)
        self._filling = None
        self._filled = 0
        self._wake()

    def _finish(self) -> None:
        """The whole body arrived: give the connection back to HTTP."""
        self.complete = True
        self._discard = None
        self._transport.set_protocol(self._http)
        if self._paused:
            self._paused = False
            self._transport.resume_reading()
        self._on_complete()
        self._wake()
        self._give_back_idle()

    def _done_filling(self) -> bool:
        """No more bytes will go into the buffers."""
        return self.complete or self.lost or self._discard is not None

    def _give_back_idle(self) -> None:
        """Buffers no chunk uses go back to the pool once no more bytes will come."""
        if not self._done_filling():
            return
        for buffer in self._free:
            give_buffer(buffer)
        self._free.clear()
        if self._filling is not None and not self._filled:
            give_buffer(self._filling)
            self._filling = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class CutShortBody:
    """A body whose connection closed before the endpoint asked for it: ``early`` gives
    what had arrived (the HTTP layer would drop it), ``next`` nothing more."""

    complete = False
    lost = True

    def __init__(self, early: list[bytes]) -> None:
        self._early = [p for p in early if p]
        self.received = sum(len(p) for p in early)

    def early(self) -> list[bytes]:
        early, self._early = self._early, []
        return early

    async def next(self) -> memoryview | None:
        return None

    def release(self, chunk: memoryview) -> None:
        pass  # never lent one

    def close(self) -> None:
        self._early = []


Intake = BodyIntake | CutShortBody
