"""The acting principal recorded on every mutation.

Until authentication exists, the actor is the local user: the server takes the name
the client declares (``X-Modeldepot-Actor``) or its own OS user. Services receive an
``Actor`` explicitly, so authentication and permissions plug in at the edge only.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass

from modeldepot.errors import InvalidInput

_ACTOR = re.compile(r"^[A-Za-z0-9._@+-][A-Za-z0-9._@+ -]{0,127}$")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action: ``name`` is what audit records show."""

    name: str
    kind: str = "user"


def local_actor() -> Actor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(name if _ACTOR.fullmatch(name) else "unknown")


def parse_actor(name: str) -> Actor:
    if not _ACTOR.fullmatch(name):
        raise InvalidInput(f"actor name {name!r} is malformed")
    return Actor(name)
