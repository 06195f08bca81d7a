"""HTTP plumbing of the SDK: one keep-alive connection pool, problems decoded to errors.

Sockets are opened with TCP_NODELAY: a request whose headers and body go out in two
writes would otherwise wait on Nagle's algorithm and a delayed ACK (about 40 ms).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from modeldepot import __version__
from modeldepot.errors import ModeldepotError, ServerUnreachable, error_class_for

ACTOR_HEADER = "X-Modeldepot-Actor"
# Idempotent requests are retried this many times with backoff (0.4 s doubling to 3 s,
# about 15 s in all): long enough to ride out a server restart.
RETRIES = 8


class Http:
    """A thread-safe HTTP session against one modeldepot server."""

    def __init__(
        self,
        base_url: str,
        *,
        actor: str | None,
        timeout: float,
        pool: int = 16,
        presigned: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Whether to move blob bytes through presigned URLs when the server offers
        # them; turned off for this session once the server says it does not.
        self.presigned = presigned
        self._timeout = timeout
        self._pool = pool
        self._store: httpx.Client | None = None
        self._store_lock = threading.Lock()
        headers = {"User-Agent": f"modeldepot/{__version__}"}
        if actor:
            headers[ACTOR_HEADER] = actor
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )
        self.client = httpx.Client(
            base_url=self.base_url + "/api/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()
        if self._store is not None:
            self._store.close()

    @property
    def store(self) -> httpx.Client:
        """A client for presigned URLs: another host, no modeldepot headers, own pool."""
        with self._store_lock:
            if self._store is None:
                self._store = httpx.Client(
                    timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0)),
                    transport=httpx.HTTPTransport(
                        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                        limits=httpx.Limits(
                            max_connections=self._pool, max_keepalive_connections=self._pool
                        ),
                    ),
                )
            return self._store

    def store_put(self, url: str, content: Iterable[bytes], size: int) -> None:
        """PUT ``size`` bytes to a presigned URL; ServerUnreachable (retryable) if the
        store cannot be reached or refuses."""
        try:
            response = self.store.put(url, content=content, headers={"Content-Length": str(size)})
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach the blob store: {exc}") from exc
        _raise_for_store(response)

    @contextmanager
    def store_stream(
        self, url: str, *, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed GET of a presigned URL; errors as in ``store_put``."""
        try:
            with self.store.stream("GET", url, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_store(response)
                yield response
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach the blob store: {exc}") from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request; raise the domain error of a problem response.

        Idempotent requests (GET, HEAD, PUT, DELETE by default) are retried with backoff
        when the connection fails; a body given as an iterator is never retried here.
        """
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE") and not _is_stream(content)
        params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method, path, json=json, params=params, headers=headers, content=content
                )
            except httpx.TransportError as exc:
                attempt += 1
                if not idempotent or attempt >= RETRIES:
                    raise self.unreachable(exc) from exc
                time.sleep(min(0.2 * 2**attempt, 3.0))
                continue
            raise_for_problem(response)
            return response

    @contextmanager
    def stream(
        self, path: str, *, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed GET; the caller reads ``iter_bytes`` and handles retries."""
        try:
            with self.client.stream("GET", path, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    raise_for_problem(response)
                yield response
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc

    def unreachable(self, exc: Exception) -> ServerUnreachable:
        return ServerUnreachable(
            f"cannot reach modeldepot at {self.base_url}: {exc or type(exc).__name__}"
        )


def raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or "HTTP_ERROR")
    detail = str(body.get("detail") or response.reason_phrase or f"HTTP {response.status_code}")
    extra = {
        k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "code")
    }
    cls = error_class_for(code)
    error = cls(detail, **extra)
    if cls is ModeldepotError:
        error.code = code  # type: ignore[misc]
    error.status = response.status_code  # type: ignore[attr-defined]
    raise error


def _raise_for_store(response: httpx.Response) -> None:
    if response.status_code >= 400:
        # S3 answers in XML; its code (e.g. AccessDenied for an expired URL) is enough.
        found = response.text.split("<Code>", 1)[-1].split("</Code>", 1)[0][:100]
        reason = found if "<Code>" in response.text else response.reason_phrase
        raise ServerUnreachable(f"the blob store refused: HTTP {response.status_code} {reason}")


def segment(name: str) -> str:
    """Quote a model name for a URL path, keeping its slashes."""
    return quote(name, safe="/")


def _is_stream(content: object) -> bool:
    return content is not None and not isinstance(content, (bytes, bytearray, str))
