"""HTTP plumbing of the SDK: keep-alive connections, problems decoded to errors.

Over plain ``http://`` without a proxy (a local or in-cluster server) every request
goes over ``rawhttp``'s sockets; ``https://``, proxies and answers it does not read go
through httpx, imported only then: importing httpx (and the Rich and Pygments its
command line pulls in) costs more than a whole read command may take.

Sockets are opened with TCP_NODELAY: a request whose headers and body go out in two
writes would otherwise wait on Nagle's algorithm and a delayed ACK (about 40 ms).

A server that has not answered yet in this session is not waited for: a command run
while no server is up fails at once, saying how to start one or point at one. Once it
has answered, idempotent requests ride out a restart with retries.
"""

from __future__ import annotations

import json as jsonlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

from modeldepot import __version__
from modeldepot.client import rawhttp
from modeldepot.client.response import Response, raise_for_problem, raise_for_store
from modeldepot.errors import ServerUnreachable

if TYPE_CHECKING:
    import httpx

# Bytes per chunk handed to a download's consumers.
DOWNLOAD_CHUNK = 1024 * 1024
# Idempotent requests to a server that answered earlier are retried this many times
# with backoff (0.4 s doubling to 3 s, about 15 s in all): long enough to ride out a
# server restart.
RETRIES = 8
# Said when a server never answered: how to start one or point at another.
START_HINT = (
    "is the server running? Start one with 'modeldepot serve', or point at one with "
    "--url or MODELDEPOT_URL"
)


class Http:
    """A thread-safe HTTP session against one modeldepot server."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        timeout: float,
        pool: int = 16,
        presigned: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Whether to move blob bytes through presigned URLs when the server offers
        # them; turned off for this session once the server says it does not.
        self.presigned = presigned
        # Whether the server has answered anything in this session (see the module doc).
        self.answered = False
        self._timeout = timeout
        self._pool = pool
        self._client: httpx.Client | None = None
        self._store: httpx.Client | None = None
        self._lock = threading.Lock()
        headers = {"User-Agent": f"modeldepot/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers
        # Requests skip httpx over plain http without a proxy (see ``rawhttp``).
        self.raw_transfers = rawhttp.usable(self.base_url)
        self._connections = rawhttp.Connections(pool)

    def close(self) -> None:
        self._connections.close()
        with self._lock:
            clients, self._client, self._store = (self._client, self._store), None, None
        for client in clients:
            if client is not None:
                client.close()

    @property
    def client(self) -> httpx.Client:
        """The httpx client for API requests that cannot go over a plain socket."""
        with self._lock:
            if self._client is None:
                self._client = _httpx_client(
                    self._timeout, self._pool, base_url=self.base_url + "/api/v1"
                )
                self._client.headers.update(self._headers)
            return self._client

    @property
    def store(self) -> httpx.Client:
        """A client for presigned URLs: another host, no modeldepot headers, own pool."""
        with self._lock:
            if self._store is None:
                self._store = _httpx_client(self._timeout, self._pool)
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
                self._raise_for(_from_raw(raw, body), store=store)
                return
            except rawhttp.Broken as exc:
                raise self._unreachable(exc, store=store) from exc
            except rawhttp.Unsupported:
                pass  # answered in a way only httpx reads: send it again there
        import httpx

        content = _file_chunks(source, offset, length, sent)
        headers["Content-Length"] = str(length)
        try:
            client = self.store if store else self.client
            response = client.request(
                method, url if store else target, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc, store=store) from exc
        self._raise_for(_from_httpx(response), store=store)

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
                    if not store:
                        self.answered = True
                    if raw.status_code >= 400:
                        self._raise_for(_from_raw(raw, raw.read()), store=store)
                    yield _RawDownload(raw)
                return
            except rawhttp.Broken as exc:
                raise self._unreachable(exc, store=store) from exc
            except rawhttp.Unsupported:
                pass  # nothing of the body was read: ask again through httpx
        import httpx

        try:
            client = self.store if store else self.client
            with client.stream("GET", url if store else target, headers=headers) as response:
                if not store:
                    self.answered = True
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(_from_httpx(response), store=store)
                yield _HttpxDownload(response)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, store=store) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Response:
        """Send a request to the API path ``path``; raise the domain error of a problem
        response.

        Idempotent requests (GET, HEAD, PUT, DELETE by default) are retried with backoff
        when the connection fails, once the server has answered in this session.
        """
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        target = path + ("?" + urlencode(query, doseq=True) if query else "")
        headers = dict(headers or {})
        body: bytes | None = None
        if json is not None:
            # As httpx encodes it: compact, UTF-8, no NaN.
            text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            body = text.encode()
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                response = self._exchange(method, target, headers, body, idempotent=idempotent)
            except _Failed as failed:
                attempt += 1
                if not idempotent or not self.answered or attempt >= RETRIES:
                    raise self.unreachable(failed.cause) from failed.cause
                time.sleep(min(0.2 * 2**attempt, 3.0))
                continue
            self.answered = True
            raise_for_problem(response)
            return response

    def _exchange(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        idempotent: bool,
    ) -> Response:
        """One attempt at a request; ``_Failed`` when the connection failed."""
        url = self._api_url(target)
        if self.raw_transfers:
            try:
                with rawhttp.request(
                    method,
                    url,
                    {**self._headers, **headers},
                    timeout=self._timeout,
                    body=body,
                    connections=self._connections,
                ) as raw:
                    return _from_raw(raw, raw.read())
            except rawhttp.Broken as exc:
                raise _Failed(exc) from exc
            except rawhttp.Unsupported as exc:
                # The server acted on the request already: only a repeatable one may
                # be sent again to be read through httpx.
                if not idempotent:
                    raise ServerUnreachable(f"unreadable answer from {url}: {exc}") from exc
        import httpx

        try:
            response = self.client.request(method, target, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise _Failed(exc) from exc
        return _from_httpx(response)

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

    def _raise_for(self, response: Response, *, store: bool) -> None:
        if store:
            raise_for_store(response)
        else:
            self.answered = True
            raise_for_problem(response)

    def _unreachable(self, exc: Exception, *, store: bool) -> ServerUnreachable:
        if store:
            return ServerUnreachable(f"cannot reach the blob store: {exc}")
        return self.unreachable(exc)

    def unreachable(self, exc: Exception) -> ServerUnreachable:
        """The error for a failed connection; with the start hint while the server has
        never answered in this session."""
        reason = str(exc) or type(exc).__name__
        where = f"modeldepot at {self.base_url}"
        if self.answered:
            return ServerUnreachable(f"lost the connection to {where}: {reason}")
        return ServerUnreachable(f"cannot reach {where} ({reason}): {START_HINT}")


class _Failed(Exception):
    """A request's connection failed; ``cause`` says how."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _httpx_client(timeout: float, pool: int, **kwargs: Any) -> httpx.Client:
    import socket

    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        ),
        **kwargs,
    )


def _query_value(value: Any) -> Any:
    # As httpx writes them: booleans in lower case.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


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
        import httpx

        try:
            yield from self._response.iter_raw(DOWNLOAD_CHUNK)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"connection broken: {exc}") from exc


def _from_raw(raw: rawhttp.RawResponse, body: bytes) -> Response:
    return Response(raw.status_code, raw.headers, body)


def _from_httpx(response: httpx.Response) -> Response:
    headers = {name.lower(): value for name, value in response.headers.items()}
    return Response(response.status_code, headers, response.content, response.reason_phrase)


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


def segment(name: str) -> str:
    """Quote a model name for a URL path, keeping its slashes."""
    return quote(name, safe="/")
