"""Serving a blob over HTTP: ranges, immutable caching, conditional requests.

What is served comes from a service call that checked the caller may read it
(``BlobService.open_blob``, ``open_file``): no route reads the store itself.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from modeldepot.errors import RangeNotSatisfiable
from modeldepot.registry.blobs import StoredBlob
from modeldepot.server.errors import problem
from modeldepot.server.ranges import parse_range

IMMUTABLE = "public, max-age=31536000, immutable"


def serve_blob(blob: StoredBlob, request: Request) -> Response:
    """A streaming response for ``blob`` honouring Range, If-None-Match and HEAD."""
    digest, size, filename = blob.digest, blob.size, blob.filename
    etag = f'"{digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "Modeldepot-Digest": digest,
    }
    if filename:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(filename)}"
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    try:
        window = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable as exc:
        response = problem(416, exc.code, exc.title, exc.detail)
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    status = 200
    first, length = 0, size
    if window is not None and request.headers.get("if-range", etag) == etag:
        first, last = window
        length = last - first + 1
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(length)
    content_type = blob.media_type or "application/octet-stream"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=content_type)
    return StreamingResponse(
        blob.read(first, length),
        status_code=status,
        headers=headers,
        media_type=content_type,
    )


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match header with our (strong) ETag."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name.rsplit("/", 1)[-1], safe="")
