"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from modeldepot.instant import parse_instant
from modeldepot.registry import Registry


# Async on purpose: FastAPI runs sync dependencies in a worker thread, a hop each.
async def get_registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


RegistryDep = Annotated[Registry, Depends(get_registry)]
CursorQ = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
LimitQ = Annotated[int | None, Query(description="Page size, 1 to 1000 (default 50)")]
DeletedQ = Annotated[bool, Query(description="Include soft-deleted items")]
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="Version number")]
AtQ = Annotated[
    str | None,
    Query(description="Resolve as of this instant (ISO 8601, e.g. `2026-03-03T10:00Z`)"),
]


def instant(at: str | None) -> datetime | None:
    return parse_instant(at) if at is not None else None
