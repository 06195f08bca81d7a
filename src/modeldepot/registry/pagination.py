"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from modeldepot.errors import CursorInvalid
from modeldepot.schemas.common import DEFAULT_LIMIT, MAX_LIMIT

MAX_KEY = 2**31 - 1  # integer keys are 32-bit columns


def encode_cursor(*key: Any) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """Decode a cursor holding values of ``types``; raise CursorInvalid if it does not."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorInvalid("pagination cursor is malformed") from None
    if not isinstance(values, list) or len(values) != len(types):
        raise CursorInvalid("pagination cursor is malformed")
    for value, kind in zip(values, types, strict=True):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CursorInvalid("pagination cursor is malformed")
        if isinstance(value, int) and not 0 <= value <= MAX_KEY:
            raise CursorInvalid("pagination cursor is out of range")
        if isinstance(value, str) and "\x00" in value:
            raise CursorInvalid("pagination cursor is malformed")
    return values


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise CursorInvalid(f"limit must be between 1 and {MAX_LIMIT}")
    return limit
