"""When a policy lets an alias move: deny windows (``closed_window``) and change
freezes (``active_freezes``, declared through ``FreezeService`` in ``freezes.py``).

Both are checked when a promotion request is applied, not when it is opened: a request
approved on Friday waits for Monday. Times are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from modeldepot.governance.freezes import FreezeService, active_freezes
from modeldepot.governance.policies import Requirements
from modeldepot.governance.policyspec import DAYS

__all__ = ["FreezeService", "active_freezes", "closed_window"]

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def closed_window(req: Requirements, now: datetime) -> str | None:
    """Why ``now`` is in one of ``req``'s deny windows, or None when it is not.

    ``deny_hours`` ``(start, end)`` denies the UTC hours ``start <= h < end``; with
    ``end < start`` it wraps past midnight (``(18, 8)``: 18:00 to 07:59)."""
    at = now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)
    day = DAYS[at.weekday()]
    if day in req.deny_days:
        return f"no promotions on {_DAY_NAMES[at.weekday()]}s (UTC) under this policy"
    if req.deny_hours is not None:
        start, end = req.deny_hours
        hour = at.hour
        closed = start <= hour < end if start < end else hour >= start or hour < end
        if closed:
            return (
                f"no promotions from {start:02d}:00 to {end % 24:02d}:00 UTC under this "
                f"policy (it is {at:%H:%M} UTC)"
            )
    return None
