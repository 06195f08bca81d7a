"""The audit log: ``/api/v1/audit`` (list), ``/audit/export`` (JSON Lines), ``/audit/verify``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from modeldepot.audit.query import AuditFilter
from modeldepot.schemas import AuditRecordRead, AuditVerification, Page
from modeldepot.server.auth import AdminCtx, AuditCtx
from modeldepot.server.deps import CursorQ, LimitQ, RegistryDep, instant

router = APIRouter(tags=["audit"])

ModelQ = Annotated[str | None, Query(description="Only records about this model")]
PrefixQ = Annotated[str | None, Query(description="Only records about models under this prefix")]
PrincipalQ = Annotated[str | None, Query(description="Only what this principal did")]
ActionQ = Annotated[
    str | None, Query(description="Only this action, or a family of them (`alias.*`)")
]
SinceQ = Annotated[str | None, Query(description="From this instant on (ISO 8601)")]
UntilQ = Annotated[str | None, Query(description="Before this instant (ISO 8601)")]


def audit_filter(
    model: str | None,
    prefix: str | None,
    principal: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
) -> AuditFilter:
    return AuditFilter(
        model=model,
        prefix=prefix,
        principal=principal,
        action=action,
        since=instant(since),
        until=instant(until),
    )


@router.get("/audit", response_model=Page[AuditRecordRead])
def list_audit(
    ctx: AuditCtx,
    registry: RegistryDep,
    model: ModelQ = None,
    prefix: PrefixQ = None,
    principal: PrincipalQ = None,
    action: ActionQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
    cursor: CursorQ = None,
    limit: LimitQ = None,
) -> Page[AuditRecordRead]:
    """Audit records, newest first: those about models the caller maintains, and
    (registry admins) those about no model."""
    filters = audit_filter(model, prefix, principal, action, since, until)
    return registry.audit.list_records(ctx, filters, cursor=cursor, limit=limit)


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON Lines"}},
)
def export_audit(
    ctx: AuditCtx,
    registry: RegistryDep,
    model: ModelQ = None,
    prefix: PrefixQ = None,
    principal: PrincipalQ = None,
    action: ActionQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
    after: Annotated[int, Query(ge=0, description="Only records after this seq")] = 0,
) -> StreamingResponse:
    """The same records as JSON Lines, oldest first, streamed: each line is the
    record's canonical JSON with its ``hash`` added."""
    filters = audit_filter(model, prefix, principal, action, since, until)
    lines = registry.audit.export_records(ctx, filters, after=after)
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.get("/audit/verify", response_model=AuditVerification)
def verify_audit(ctx: AdminCtx, registry: RegistryDep) -> AuditVerification:
    """Walk the whole chain and its signed checkpoints (registry admins); ``ok`` is
    false and ``problem`` names the first inconsistency when it does not verify."""
    return registry.audit.verify(ctx)
