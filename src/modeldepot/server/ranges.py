"""HTTP ``Range`` header parsing for blob downloads (one byte range, RFC 9110)."""

from __future__ import annotations

import re

from modeldepot.errors import RangeNotSatisfiable

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte range asked for, or None for the whole blob.

    Malformed headers and multi-range requests are ignored (the whole blob is served,
    as RFC 9110 allows). A range wholly past the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:
        if size == 0:
            return None  # an empty blob has no suffix to select: serve it whole (empty)
        suffix = int(last_text)
        if suffix == 0:
            raise RangeNotSatisfiable(f"range {header!r} selects no bytes", size=size)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size:
        raise RangeNotSatisfiable(f"range {header!r} starts past the end ({size} bytes)", size=size)
    if last < first:
        return None
    return first, min(last, size - 1)
