"""Read timeouts of one connection: a client that stalls while the server waits for it
is cut, so no connection is held by a client that sends nothing.

Two limits (``ReadTimeouts``): a request's headers must all arrive within ``headers``
seconds of their first byte (or of the connection opening), and a body may go at most
``body`` seconds without a byte *while the server waits for one*. Time the server
itself is not reading (back-pressure while the app catches up, or a client told to
wait for ``100 Continue``) never counts.

A ``ReadWatch`` runs one timer per connection, re-armed only when it fires; a byte
arriving just stores the loop's clock. The protocol (``modeldepot.server.protocol``)
says which phase the connection is in and what to do when a limit passes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

HEADERS = "headers"
BODY = "body"


@dataclass(frozen=True, slots=True)
class ReadTimeouts:
    """Seconds a client may take: all of a request's headers, and each gap in a body."""

    headers: float = 5.0
    body: float = 15.0


class ReadWatch:
    """Watches one connection; calls ``cut(phase)`` once a limit passed.

    ``waiting()`` tells whether the server is waiting for the client's bytes right now;
    while it is not, the clock of the current phase starts again.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeouts: ReadTimeouts,
        waiting: Callable[[], bool],
        cut: Callable[[str], None],
    ) -> None:
        self._loop = loop
        self._timeouts = timeouts
        self._waiting = waiting
        self._cut = cut
        self.phase: str | None = None
        self._since = 0.0  # start of the phase, or the body's last byte
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0

    def headers_begin(self) -> None:
        """A request's headers are expected (its first byte came, or none yet)."""
        self._begin(HEADERS, self._timeouts.headers)

    def body_begin(self) -> None:
        """The headers are complete and a body may follow."""
        self._begin(BODY, self._timeouts.body)

    def arrived(self) -> None:
        """Body bytes arrived."""
        self._since = self._loop.time()

    def done(self) -> None:
        """Nothing more is expected from the client until its next request."""
        self.phase = None

    def close(self) -> None:
        self.phase = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _begin(self, phase: str, limit: float) -> None:
        self.phase = phase
        self._since = self._loop.time()
        self._arm(self._since + limit)

    def _arm(self, due: float) -> None:
        if self._timer is not None:
            if self._due <= due:
                return  # it fires first and re-arms for the rest
            self._timer.cancel()
        self._due = due
        self._timer = self._loop.call_at(due, self._check)

    def _check(self) -> None:
        self._timer = None
        phase = self.phase
        if phase is None:
            return
        now = self._loop.time()
        if not self._waiting():
            self._since = now
        limit = self._timeouts.headers if phase == HEADERS else self._timeouts.body
        if now - self._since >= limit:
            self.phase = None
            self._cut(phase)
        else:
            self._arm(self._since + limit)


def timeout_response(seconds: float) -> bytes:
    """A complete 408 problem+json response (code ``REQUEST_TIMEOUT``) that closes."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Request timeout",
            "status": 408,
            "detail": f"the request's headers did not all arrive within {seconds:g} s",
            "code": "REQUEST_TIMEOUT",
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
