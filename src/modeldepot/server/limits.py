"""Bound the size of JSON request bodies; blob bodies stream and are bounded by size.

FastAPI's own ``max_body_size`` answers from outside the app's exception handlers, as
a text/plain 413, so it would break the problem+json contract; hence this middleware.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modeldepot.server.errors import problem

MAX_JSON_BODY = 64 * 1024 * 1024


class JsonBodyLimit:
    """Answer 413 REQUEST_TOO_LARGE to JSON bodies over ``MAX_JSON_BODY`` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
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

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "REQUEST_TOO_LARGE",
            "Request too large",
            f"JSON bodies are limited to {self.limit} bytes",
        )
        await response(scope, receive, send)


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTPExceptions from body parsing."""

    def __init__(self) -> None:
        super().__init__(413, "JSON body too large")
