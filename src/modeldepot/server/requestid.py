"""Request ids: taken from ``X-Request-ID`` when it is safe, else made here.

The id of the request being served lives in a context variable, so every log line
written while serving it (in worker threads too: they run in a copy of the context)
can name it, and so can problem+json error bodies.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

HEADER = "X-Request-ID"
RAW_HEADER = b"x-request-id"
MAX_LENGTH = 128
# Characters that cannot break a log line, a header or a shell-quoted grep.
_SAFE = re.compile(rb"[A-Za-z0-9._~:@+=/-]{1,%d}" % MAX_LENGTH)

_current: ContextVar[str | None] = ContextVar("modeldepot_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request this code runs for, or None outside any request."""
    return _current.get()


def bind_request_id(incoming: bytes | None) -> str:
    """Make ``incoming`` (else a new id) the current request's id and return it.

    An incoming id longer than ``MAX_LENGTH`` or with other characters than letters,
    digits and ``._~:@+=/-`` is replaced, never echoed.
    """
    if incoming is not None and _SAFE.fullmatch(incoming):
        request_id = incoming.decode("ascii")
    else:
        request_id = os.urandom(16).hex()
    _current.set(request_id)
    return request_id
