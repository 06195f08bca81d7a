"""Bound JSON request bodies: their size, and how many large ones are handled at once.

Blob bodies stream and are bounded by their declared size; JSON bodies are read whole
and parsed into objects several times their size, so a few large ones at once could
take the server's memory. FastAPI's own ``max_body_size`` answers from outside the
app's exception handlers, as a text/plain 413, so it would break the problem+json
contract; hence this middleware.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modeldepot.server.errors import problem

MAX_JSON_BODY = 8 * 1024 * 1024
PARSE_SLOTS = 2
# JSON bodies from this size on are read whole first, then handled in one of the
# parse slots; smaller ones (nearly all) pass straight through.
LARGE_JSON = 1024 * 1024


class JsonBodyLimit:
    """Answer 413 REQUEST_TOO_LARGE to JSON bodies over ``limit`` bytes, and handle at
    most ``slots`` JSON bodies of ``LARGE_JSON`` bytes or more at once (others wait,
    holding only their raw bytes)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_BODY, slots: int = PARSE_SLOTS) -> None:
        self.app = app
        self.limit = limit
        self._slots = asyncio.Semaphore(max(1, slots))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        raw = headers.get(b"content-length")
        declared = int(raw) if raw is not None and raw.isdigit() else None
        if declared is not None and declared > self.limit:
            await self._reject(scope, receive, send)
            return
        if declared is not None and declared < LARGE_JSON:
            await self._pass_counted(scope, receive, send)
            return
        try:
            body = await self._read(receive)
        except _TooLarge:
            await self._reject(scope, receive, send)
            return
        if body is None:
            return  # the client went away: nobody to answer
        if len(body) < LARGE_JSON:
            await self.app(scope, _replay(body, receive), send)
            return
        async with self._slots:
            await self.app(scope, _replay(body, receive), send)

    async def _pass_counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the app read the body, refusing it if it runs past the limit."""
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body (None if the client went away); _TooLarge past the limit."""
        pieces: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            piece = message.get("body", b"")
            size += len(piece)
            if size > self.limit:
                raise _TooLarge
            pieces.append(piece)
            if not message.get("more_body", False):
                return b"".join(pieces)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "REQUEST_TOO_LARGE",
            "Request too large",
            f"JSON bodies are limited to {self.limit} bytes",
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives ``body`` first, then what the connection says (disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTPExceptions from body parsing."""

    def __init__(self) -> None:
        super().__init__(413, "JSON body too large")
