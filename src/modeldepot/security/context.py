"""``Context``: who is asking, from where, under which request, built once at the edge.

Every service call takes a context as its first argument; telemetry and logs read it
too, so nothing downstream re-parses a header.
"""

from __future__ import annotations

from dataclasses import dataclass

from modeldepot.security.access import EVERYTHING, READ_ALL, Access


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated identity. ``kind`` is ``user`` or ``service`` for those stored
    in the registry, ``anonymous`` for an unauthenticated reader (when allowed) and
    ``system`` for the operator commands run on the server's own storage."""

    id: int | None
    name: str
    kind: str


ANONYMOUS = Principal(None, "anonymous", "anonymous")


@dataclass(frozen=True, slots=True)
class Context:
    principal: Principal
    access: Access
    request_id: str | None = None
    client: str | None = None
    # The API token the request authenticated with, if any (its public id, never the
    # secret): a token may only manage tokens as far as its scope allows.
    token_id: str | None = None

    @property
    def name(self) -> str:
        """What ``*_by`` columns and audit records show."""
        return self.principal.name

    @property
    def quota_key(self) -> str:
        """The key per-principal limits count under."""
        if self.principal.id is not None:
            return f"principal:{self.principal.id}"
        return f"address:{self.client or 'unknown'}"

    @classmethod
    def system(cls, name: str = "system", *, client: str | None = None) -> Context:
        """A context for the operator commands that act on the storage directly
        (``gc``, ``db upgrade``): whoever can run them owns the data already."""
        return cls(Principal(None, name, "system"), EVERYTHING, client=client)

    @classmethod
    def anonymous(cls, *, request_id: str | None = None, client: str | None = None) -> Context:
        return cls(ANONYMOUS, READ_ALL, request_id=request_id, client=client)
