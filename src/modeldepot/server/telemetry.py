"""One pure ASGI middleware that observes every HTTP request.

It binds the request id (and answers it in ``X-Request-ID``), times the request,
counts body bytes both ways without buffering them, and when the response is done
records it in the metrics and, if asked, writes one access-log line. Pure ASGI, not
``BaseHTTPMiddleware``, so bodies stream through untouched and a request pays a few
microseconds (see docs/operations.md for the measured figure).
"""

from __future__ import annotations

import logging
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modeldepot.server.auth import CONTEXT_STATE
from modeldepot.server.intake import taken_bytes
from modeldepot.server.logs import ACCESS_LOGGER
from modeldepot.server.metrics import UNMATCHED, HttpMetrics
from modeldepot.server.requestid import RAW_HEADER, bind_request_id

access_log = logging.getLogger(ACCESS_LOGGER)


class Telemetry:
    """Request ids, metrics and the access log for every HTTP request."""

    def __init__(
        self, app: ASGIApp, metrics: HttpMetrics, *, prefix: str, log_access: bool = False
    ) -> None:
        """``prefix``: where routers are included, which their routes' templates omit."""
        self.app = app
        self.metrics = metrics
        self.prefix = prefix
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == RAW_HEADER:
                incoming = value
                break
        request_id = bind_request_id(incoming)
        id_header = (RAW_HEADER, request_id.encode())
        # Until a response starts, an exception means the 500 the outer handler sends.
        status = 500
        received = sent = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def observing_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            else:
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, observing_send)
        finally:
            received += taken_bytes(scope)
            seconds = perf_counter() - start
            template = self._template(scope)
            method = scope["method"]
            self.metrics.observe(method, template, status, seconds, received, sent)
            if self.log_access and access_log.isEnabledFor(logging.INFO):
                actor = _principal(scope)
                _log_access(scope, method, template, actor, status, seconds, received, sent)

    def _template(self, scope: Scope) -> str:
        """The matched route's path template, prefix included, or ``UNMATCHED``."""
        template = getattr(scope.get("route"), "path_format", None)
        if template is None:
            return UNMATCHED
        # Routes of an included router keep their own path; the prefix is applied
        # when matching, so add it back for requests that came through it.
        if scope["path"].startswith(self.prefix) and not template.startswith(self.prefix):
            return self.prefix + template
        return template


def _principal(scope: Scope) -> str | None:
    """Who the request authenticated as: read from its context, never from a header."""
    ctx = scope.get("state", {}).get(CONTEXT_STATE)
    return ctx.name if ctx is not None else None


def _log_access(
    scope: Scope,
    method: str,
    route: str,
    actor: str | None,
    status: int,
    seconds: float,
    received: int,
    sent: int,
) -> None:
    client = scope.get("client")
    duration_ms = round(seconds * 1000, 3)
    access_log.info(
        '"%s %s" %d %.1f ms',
        method,
        scope["path"],
        status,
        duration_ms,
        extra={
            "fields": {
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": duration_ms,
                "bytes_received": received,
                "bytes_sent": sent,
                "actor": actor,
                "client": client[0] if client else None,
            }
        },
    )
