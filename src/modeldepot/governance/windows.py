# TEMPORARY (lead's scaffold until H1's branch merges; removed before merge)
from __future__ import annotations

from datetime import datetime
from typing import Any


def closed_window(req: Any, now: datetime) -> str | None:
    return None


def active_freezes(conn: Any, model_name: str, now: datetime) -> list[str]:
    return []
