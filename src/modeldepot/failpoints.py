"""Named pauses for crash tests: ``MODELDEPOT_FAILPOINTS="commit.before_db_commit=5"``.

A failpoint set to N sleeps N seconds when reached, giving a test a window to kill the
process at a precise step. Unset (always, in production) it costs one dict lookup.
"""

from __future__ import annotations

import os
import time

_POINTS: dict[str, float] = {}
for _item in filter(None, os.environ.get("MODELDEPOT_FAILPOINTS", "").split(",")):
    _name, _, _seconds = _item.partition("=")
    _POINTS[_name.strip()] = float(_seconds or 0)


def reach(name: str) -> None:
    seconds = _POINTS.get(name)
    if seconds:
        time.sleep(seconds)
