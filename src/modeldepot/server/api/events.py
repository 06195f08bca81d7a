"""The event stream: ``/api/v1/events`` as pages, long polls or server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from modeldepot.audit.query import AuditFilter
from modeldepot.audit.stream import EventService
from modeldepot.errors import InvalidInput
from modeldepot.schemas import EventPage
from modeldepot.security.context import Context
from modeldepot.server.auth import ReadCtx
from modeldepot.server.deps import RegistryDep

router = APIRouter(tags=["events"])
SSE = "text/event-stream"


@router.get(
    "/events",
    response_model=EventPage,
    responses={200: {"content": {SSE: {}}, "description": "A page, or server-sent events"}},
)
async def events(
    ctx: ReadCtx,
    request: Request,
    registry: RegistryDep,
    after: Annotated[int, Query(ge=0, description="Events after this seq (0: from the start)")] = 0,
    prefix: Annotated[str | None, Query(description="Only events about models under it")] = None,
    action: Annotated[str | None, Query(description="Only this action, or `alias.*`")] = None,
    limit: Annotated[int | None, Query(description="Events per page, 1 to 1000 (100)")] = None,
    wait: Annotated[
        float, Query(description="Long poll: wait up to this many seconds (at most 60)")
    ] = 0,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> EventPage | StreamingResponse:
    """Changes the caller may read, in commit order (reader on the model; changes to
    no model, such as users and grants, for registry admins).

    With ``Accept: text/event-stream`` the answer is a stream of server-sent events,
    one per change (``id`` is its seq, so a reconnecting ``EventSource`` resumes after
    ``Last-Event-ID``); it lasts ``wait`` seconds if given, else until the client leaves.
    """
    filters = AuditFilter(prefix=prefix, action=action)
    service = registry.events
    if SSE not in request.headers.get("accept", ""):
        return await service.wait_for_events(ctx, filters, after=after, limit=limit, wait=wait)
    if last_event_id:
        if not last_event_id.isdigit():
            raise InvalidInput("Last-Event-ID must be a sequence number")
        after = max(after, int(last_event_id))
    # The first page is read before answering, so a bad filter is a problem document.
    first = await run_in_threadpool(service.events, ctx, filters, after=after)
    return StreamingResponse(
        _sse(service, ctx, filters, first, duration=wait or None),
        media_type=SSE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(
    service: EventService,
    ctx: Context,
    filters: AuditFilter,
    first: EventPage,
    *,
    duration: float | None,
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    for item in first.items:
        yield f"id: {item.seq}\ndata: {item.model_dump_json()}\n\n"
    pages = service.follow(ctx, filters, after=first.next_after, duration=duration)
    async for page in pages:
        if not page.items:
            yield ": keep-alive\n\n"
        for item in page.items:
            yield f"id: {item.seq}\ndata: {item.model_dump_json()}\n\n"
