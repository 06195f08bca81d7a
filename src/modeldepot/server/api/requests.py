"""Promotion requests and external checks: ``/api/v1/requests…``,
``/api/v1/models/{name}/-/requests``, ``…/-/rollback``, ``…/versions/{n}/checks``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from modeldepot.schemas import Page, VersionRead
from modeldepot.schemas.governance import (
    CheckCreate,
    CheckRead,
    CloseRequest,
    CommentCreate,
    MetricsAdd,
    RequestCreate,
    RequestDetail,
    RequestRead,
    ReviewCreate,
    RollbackCreate,
    WaiverCreate,
)
from modeldepot.server.auth import CheckCtx, EditCtx, ReadCtx, RequestCtx, ReviewCtx
from modeldepot.server.deps import CursorQ, LimitQ, RegistryDep

router = APIRouter(tags=["promotion requests"])
MODEL = "/models/{name:path}/-"


@router.post(MODEL + "/requests", response_model=RequestDetail, status_code=status.HTTP_201_CREATED)
def open_request(
    ctx: RequestCtx, name: str, data: RequestCreate, registry: RegistryDep
) -> RequestDetail:
    """Open a request to point ``alias`` at ``version`` (the only way a protected alias
    moves); it is evaluated at once, and applied at once if its policy auto-applies."""
    request_id = registry.requests.open(ctx, name, data.version, data.alias, data.reason)
    return registry.request_reads.get(ctx, request_id)


@router.post(MODEL + "/rollback", response_model=RequestDetail, status_code=status.HTTP_201_CREATED)
def open_rollback(
    ctx: RequestCtx, name: str, data: RollbackCreate, registry: RegistryDep
) -> RequestDetail:
    """Open a request to move ``alias`` back to the version it held before."""
    request_id = registry.requests.open_rollback(ctx, name, data.alias, data.reason)
    return registry.request_reads.get(ctx, request_id)


@router.get("/requests", response_model=Page[RequestRead])
def list_requests(
    ctx: ReadCtx,
    registry: RegistryDep,
    state: Annotated[
        str | None, Query(description="a state, `open` (open or approved), `closed`, or `all`")
    ] = "open",
    model: str | None = None,
    alias: str | None = None,
    requested_by: str | None = None,
    waiting_for: Annotated[
        Literal["me"] | None, Query(description="`me`: requests I may approve, not reviewed yet")
    ] = None,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[RequestRead]:
    return registry.request_reads.list_requests(
        ctx,
        state=None if state == "all" else state,
        model=model,
        alias=alias,
        requested_by=requested_by,
        waiting_for=ctx.name if waiting_for == "me" else None,
        cursor=cursor,
        limit=limit,
    )


@router.get("/requests/{request_id}", response_model=RequestDetail)
def get_request(ctx: ReadCtx, request_id: int, registry: RegistryDep) -> RequestDetail:
    """The request at a glance: requirements evaluated now, reviews, comments, waivers,
    checks, and the diff against the alias's current version."""
    return registry.request_reads.get(ctx, request_id)


@router.post("/requests/{request_id}/reviews", response_model=RequestDetail)
def review_request(
    ctx: ReviewCtx, request_id: int, data: ReviewCreate, registry: RegistryDep
) -> RequestDetail:
    registry.requests.review(ctx, request_id, data.verdict, data.comment)
    return registry.request_reads.get(ctx, request_id)


@router.post(
    "/requests/{request_id}/comments",
    response_model=RequestDetail,
    status_code=status.HTTP_201_CREATED,
)
def comment_request(
    ctx: ReviewCtx, request_id: int, data: CommentCreate, registry: RegistryDep
) -> RequestDetail:
    registry.requests.comment(ctx, request_id, data.body)
    return registry.request_reads.get(ctx, request_id)


@router.post("/requests/{request_id}/cancel", response_model=RequestDetail)
def cancel_request(
    ctx: RequestCtx, request_id: int, data: CloseRequest, registry: RegistryDep
) -> RequestDetail:
    registry.requests.cancel(ctx, request_id, data.reason)
    return registry.request_reads.get(ctx, request_id)


@router.post("/requests/{request_id}/apply", response_model=RequestDetail)
def apply_request(ctx: RequestCtx, request_id: int, registry: RegistryDep) -> RequestDetail:
    """Move the alias, if every requirement is met (else ``REQUEST_NOT_READY``)."""
    registry.requests.apply(ctx, request_id)
    return registry.request_reads.get(ctx, request_id)


@router.post("/requests/{request_id}/waivers", response_model=RequestDetail)
def waive_requirement(
    ctx: ReviewCtx, request_id: int, data: WaiverCreate, registry: RegistryDep
) -> RequestDetail:
    """Waive a failing rule, check, stage or window requirement, with a reason and an
    expiry; needs the policy's waiver role (admin by default) on the model."""
    registry.requests.waive(ctx, request_id, data.requirement, data.reason, data.expires_in_hours)
    return registry.request_reads.get(ctx, request_id)


@router.post(
    MODEL + "/versions/{number}/checks",
    response_model=CheckRead,
    status_code=status.HTTP_201_CREATED,
)
def post_check(
    ctx: CheckCtx, name: str, number: int, data: CheckCreate, registry: RegistryDep
) -> CheckRead:
    """Post an external check result on the version's content (``digest`` must be the
    version's)."""
    return registry.checks.post(ctx, name, number, data)


@router.post(MODEL + "/versions/{number}/metrics", response_model=VersionRead)
def add_metrics(
    ctx: EditCtx, name: str, number: int, data: MetricsAdd, registry: RegistryDep
) -> VersionRead:
    """Add metrics to a version (a later evaluation); recorded ones are never replaced."""
    return registry.metrics.add_metrics(ctx, name, number, data.metrics, data.slices)


@router.get(MODEL + "/versions/{number}/checks", response_model=list[CheckRead])
def list_checks(ctx: ReadCtx, name: str, number: int, registry: RegistryDep) -> list[CheckRead]:
    return registry.checks.list_checks(ctx, name, number)
