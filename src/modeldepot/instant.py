"""Points in time as users write them: ISO 8601, always compared in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from modeldepot.errors import TimeInvalid


def parse_instant(text: str) -> datetime:
    """``2026-03-03``, ``2026-03-03T10:00Z``, ``2026-03-03T10:00:00+01:00`` → aware UTC.

    A time without an offset is taken as UTC; a date alone means its midnight UTC.
    Raises TimeInvalid with the accepted forms otherwise.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise TimeInvalid(
            f"{text!r} is not a point in time; use ISO 8601 such as 2026-03-03 or 2026-03-03T10:00Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise TimeInvalid(f"{text!r} lies outside the calendar once taken to UTC") from None
