"""HTTP plumbing of the SDK: one keep-alive connection pool, problems decoded to errors.

Sockets are opened with TCP_NODELAY: a request whose headers and body go out in two
writes would otherwise wait on Nagle's algorithm and a delayed ACK (about 40 ms).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from modeldepot import __version__
from modeldepot.client import rawhttp
from modeldepot.errors import ModeldepotError, ServerUnreachable, error_class_for

ACTOR_HEADER = "X-Modeldepot-Actor"
# Bytes per chunk handed to a download's consumers.
DOWNLOAD_CHUNK = 1024 * 1024
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
        self._headers = headers
        # Blob bytes skip httpx over plain http without a proxy (see ``rawhttp``).
        self.raw_transfers = rawhttp.usable(self.base_url)
        self._connections = rawhttp.Connections(pool)
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
        self._connections.close()
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

    def send_file(
        self,
        method: str,
        target: str,
        source: Path,
        offset: int,
        length: int,
        *,
        headers: dict[str, str] | None = None,
        sent: Callable[[int], None],
        store: bool = False,
    ) -> None:
        """Send ``length`` bytes of ``source`` from ``offset`` as a request body.

        ``target`` is an API path, or with ``store`` a presigned URL (no modeldepot
        headers, S3 errors). ``sent(n)`` reports progress. A refusal raises its domain
        error; a broken connection raises ServerUnreachable (nothing is retried here).
        """
        url = target if store else self._api_url(target)
        headers = dict(headers or {})
        raw_headers = self._raw_headers(url, headers, store=store)
        if raw_headers is not None:
            try:
                with (
                    open(source, "rb", buffering=0) as fileobj,
                    rawhttp.request(
                        method,
                        url,
                        raw_headers,
                        timeout=self._timeout,
                        body=(fileobj.fileno(), offset, length),
                        sent=sent,
                        connections=self._connections,
                        # modeldepot answers Expect; a store gets its body at once.
                        expect_continue=not store,
                    ) as raw,
                ):
                    body = raw.read()
                self._raise_for(_as_httpx(raw, body, method, url), store=store)
                return
            except rawhttp.Broken as exc:
                raise self._unreachable(exc, store=store) from exc
            except rawhttp.Unsupported:
                pass  # answered in a way only httpx reads: send it again there
        content = _file_chunks(source, offset, length, sent)
        headers["Content-Length"] = str(length)
        try:
            client = self.store if store else self.client
            response = client.request(
                method, url if store else target, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc, store=store) from exc
        self._raise_for(response, store=store)

    @contextmanager
    def download(
        self, target: str, *, headers: dict[str, str] | None = None, store: bool = False
    ) -> Iterator[Download]:
        """A streamed GET of an API path, or with ``store`` of a presigned URL; its
        ``chunks()`` stay valid until two more are taken. Errors as in ``send_file``."""
        url = target if store else self._api_url(target)
        raw_headers = self._raw_headers(url, headers or {}, store=store)
        if raw_headers is not None:
            try:
                with rawhttp.request(
                    "GET", url, raw_headers, timeout=self._timeout, connections=self._connections
                ) as raw:
                    if raw.status_code >= 400:
                        self._raise_for(_as_httpx(raw, raw.read(), "GET", url), store=store)
                    yield _RawDownload(raw)
                return
            except rawhttp.Broken as exc:
                raise self._unreachable(exc, store=store) from exc
            except rawhttp.Unsupported:
                pass  # nothing of the body was read: ask again through httpx
        try:
            client = self.store if store else self.client
            with client.stream("GET", url if store else target, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(response, store=store)
                yield _HttpxDownload(response)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, store=store) from exc

    def _raw_headers(
        self, url: str, headers: dict[str, str], *, store: bool
    ) -> dict[str, str] | None:
        """The headers to send ``url`` over a plain socket, or None if it cannot go so.
        httpx adds the session's own headers itself; a presigned URL gets none."""
        if not (self.raw_transfers and rawhttp.usable(url)):
            return None
        return dict(headers) if store else {**self._headers, **headers}

    def _api_url(self, path: str) -> str:
        return f"{self.base_url}/api/v1{path}"

    def _raise_for(self, response: httpx.Response, *, store: bool) -> None:
        if store:
            _raise_for_store(response)
        else:
            raise_for_problem(response)

    def _unreachable(self, exc: Exception, *, store: bool) -> ServerUnreachable:
        if store:
            return ServerUnreachable(f"cannot reach the blob store: {exc}")
        return self.unreachable(exc)

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

    def unreachable(self, exc: Exception) -> ServerUnreachable:
        return ServerUnreachable(
            f"cannot reach modeldepot at {self.base_url}: {exc or type(exc).__name__}"
        )


class Download(Protocol):
    """A response whose body is being streamed."""

    status_code: int

    def chunks(self) -> Iterator[bytes | memoryview]: ...


class _RawDownload:
    def __init__(self, raw: rawhttp.RawResponse) -> None:
        self._raw = raw
        self.status_code = raw.status_code

    def chunks(self) -> Iterator[bytes | memoryview]:
        try:
            yield from self._raw.iter_chunks()
        except rawhttp.Broken as exc:
            raise ServerUnreachable(f"connection broken: {exc}") from exc


class _HttpxDownload:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code

    def chunks(self) -> Iterator[bytes | memoryview]:
        try:
            yield from self._response.iter_raw(DOWNLOAD_CHUNK)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"connection broken: {exc}") from exc


def _as_httpx(raw: rawhttp.RawResponse, body: bytes, method: str, url: str) -> httpx.Response:
    return httpx.Response(
        raw.status_code, headers=raw.headers, content=body, request=httpx.Request(method, url)
    )


def _file_chunks(
    source: Path, offset: int, length: int, sent: Callable[[int], None]
) -> Iterator[bytes]:
    """``length`` bytes of ``source`` from ``offset``, the next chunk read ahead."""
    from modeldepot.overlap import read_ahead

    with open(source, "rb", buffering=0) as fileobj:
        fileobj.seek(offset)
        window = _Window(fileobj, length)
        for chunk in read_ahead(window, SEND_CHUNK):  # type: ignore[arg-type]
            sent(len(chunk))
            yield chunk


# Bytes per read of a file sent through httpx: 4 MiB sends several times faster than
# 1 MiB on loopback (fewer trips through httpx per byte).
SEND_CHUNK = 4 * 1024 * 1024


class _Window:
    """At most ``length`` bytes of a file, from its position: reads stop there."""

    def __init__(self, fileobj: object, length: int) -> None:
        self._fileobj = fileobj
        self._left = length

    def read(self, size: int) -> bytes:
        size = min(size, self._left)
        if size <= 0:
            return b""
        data: bytes = self._fileobj.read(size)  # type: ignore[attr-defined]
        self._left -= len(data)
        return data


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
