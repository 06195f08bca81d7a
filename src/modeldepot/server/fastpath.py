"""Which HTTP protocol the server runs: the upload fast path, or uvicorn's own.

The fast path (``modeldepot.server.protocol``, with ``modeldepot.server.intake``)
subclasses uvicorn's httptools protocol and reaches into its private state: the request
cycle's body and flags, the parser, flow control. Any uvicorn release may change that
state, so the fast path runs only on the releases it is tested with (``TESTED_UVICORN``,
kept in step with the range in ``pyproject.toml``) and only when the hooks it overrides
are there. On any other uvicorn the server runs uvicorn's stock protocol: uploads are
slower (near 350 MB/s instead of over 1 GB/s on one connection), and just as correct.
"""

from __future__ import annotations

import asyncio
import logging
import re

import uvicorn

from modeldepot.server.readwatch import ReadTimeouts

log = logging.getLogger("modeldepot.server")

# The uvicorn releases the fast path is tested with: from the first up to, not
# including, the second (``uvicorn[standard]>=0.30,<0.56`` in pyproject.toml).
TESTED_UVICORN = ((0, 30), (0, 56))
# What the subclass overrides or calls on uvicorn's classes, by class name.
HOOKS: dict[str, tuple[str, ...]] = {
    "HttpToolsProtocol": (
        "connection_made",
        "on_message_begin",
        "on_message_complete",
        "on_response_complete",
        "on_headers_complete",
        "on_body",
        "data_received",
        "eof_received",
        "connection_lost",
        "pause_writing",
        "resume_writing",
        "send_400_response",
    ),
    "RequestResponseCycle": ("receive", "send"),
}
STOCK = "auto"  # uvicorn's own choice: its httptools protocol when installed, else h11


def http_protocol(
    enabled: bool = True, timeouts: ReadTimeouts | None = None
) -> type[asyncio.Protocol] | str:
    """The ``http`` argument for uvicorn: the fast path's protocol class when ``enabled``
    and the installed uvicorn is one it knows (with ``timeouts`` for reading requests,
    else its defaults), else ``STOCK``. Logs which, once a call. The read timeouts live
    in the fast path's protocol: uvicorn's stock one has none."""
    reason = unsupported() if enabled else "turned off by MODELDEPOT_HTTP_FAST_PATH"
    if reason is None:
        from modeldepot.server.protocol import BulkBodyProtocol

        log.info("HTTP protocol: upload fast path (uvicorn %s)", uvicorn.__version__)
        return (
            BulkBodyProtocol if timeouts is None else BulkBodyProtocol.with_read_timeouts(timeouts)
        )
    log.warning(
        "HTTP protocol: uvicorn's stock protocol, uploads are slower and requests are read "
        "without header and body timeouts (%s)",
        reason,
    )
    return STOCK


def unsupported() -> str | None:
    """Why the fast path cannot run on the installed uvicorn; None when it can."""
    version = uvicorn.__version__
    low, high = TESTED_UVICORN
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None or not low <= (int(found[1]), int(found[2])) < high:
        tested = f"{low[0]}.{low[1]} to before {high[0]}.{high[1]}"
        return f"uvicorn {version} is not a release it is tested with ({tested})"
    try:
        from uvicorn.protocols.http import httptools_impl
    except ImportError as exc:  # httptools missing, or the module moved
        return f"uvicorn's httptools protocol cannot be imported ({exc})"
    missing = [
        f"{owner}.{name}"
        for owner, names in HOOKS.items()
        for name in names
        if not callable(getattr(getattr(httptools_impl, owner, None), name, None))
    ]
    if missing:
        return f"uvicorn {version} lacks {', '.join(missing)}"
    return None
