"""Reading promotion requests: one at a glance, and lists (an inbox) filtered in SQL to
the models the caller may read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from modeldepot.db.tables import (
    models,
    promotion_requests,
    request_comments,
    request_evaluations,
    request_reviews,
    request_waivers,
    versions,
)
from modeldepot.errors import InvalidInput
from modeldepot.governance.checks import check_read
from modeldepot.governance.evaluation import (
    PASSING,
    Evaluation,
    counting_reviews,
    evaluate,
    latest_checks,
)
from modeldepot.governance.request_facts import (
    OPEN_STATES,
    groups_of,
    not_found,
    policy_of,
    subject_of,
)
from modeldepot.registry.compare import CompareService
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.unit import Units
from modeldepot.schemas import Page
from modeldepot.schemas.governance import (
    CommentRead,
    RequestDetail,
    RequestRead,
    RequirementResult,
    ReviewRead,
    WaiverRead,
)
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

STATES = ("open", "approved", "rejected", "cancelled", "superseded", "applied", "expired")


class RequestReader:
    def __init__(self, units: Units, compare: CompareService) -> None:
        self.units = units
        self.compare = compare

    def get(self, ctx: Context, request_id: int) -> RequestDetail:
        """The request at a glance: its requirements evaluated now (if still open), the
        reviews, comments, waivers, checks, and the diff against the alias's version."""
        with self.units.read(ctx) as reading:
            conn = reading.conn
            row = conn.execute(
                select(promotion_requests, models.c.name.label("model_name"))
                .join(models, models.c.id == promotion_requests.c.model_id)
                .where(promotion_requests.c.id == request_id)
            ).first()
            if row is None or not ctx.access.may(Permission.MODEL_READ, row.model_name):
                raise not_found(request_id)
            subject = subject_of(conn, row, row.model_name)
            policy = policy_of(conn, row)
            now = self.units.clock()
            fresh = evaluate(conn, subject, policy, now) if row.state in OPEN_STATES else None
            base = read_request(conn, row, fresh, now)
            counting = (
                {r.id for r in counting_reviews(conn, subject, policy.for_kind(row.kind), now)}
                if policy is not None
                else set()
            )
            reviews = [
                ReviewRead(
                    principal=r.principal,
                    verdict=r.verdict,
                    revision=r.revision,
                    groups=list(r.groups or []),
                    comment=r.comment,
                    at=r.at,
                    counts=r.id in counting or r.verdict == "reject",
                )
                for r in conn.execute(
                    select(request_reviews)
                    .where(request_reviews.c.request_id == request_id)
                    .order_by(request_reviews.c.id)
                )
            ]
            comments = [
                CommentRead(principal=c.principal, body=c.body, at=c.at)
                for c in conn.execute(
                    select(request_comments)
                    .where(request_comments.c.request_id == request_id)
                    .order_by(request_comments.c.id)
                )
            ]
            waivers = [
                WaiverRead(
                    requirement=w.requirement,
                    reason=w.reason,
                    expires_at=w.expires_at,
                    created_at=w.created_at,
                    created_by=w.created_by,
                )
                for w in conn.execute(
                    select(request_waivers)
                    .where(request_waivers.c.request_id == request_id)
                    .order_by(request_waivers.c.id)
                )
            ]
            number = base.version
            posted = latest_checks(conn, subject.version_id, subject.version_digest)
            checks = [check_read(row.model_name, number, c) for c in posted.values()]
        diff = None
        if base.base_version is not None:
            diff = self.compare.diff(
                ctx, f"{row.model_name}:{base.base_version}", f"{row.model_name}:{number}"
            ).model_dump(mode="json")
        return RequestDetail(
            **base.model_dump(),
            reviews=reviews,
            comments=comments,
            waivers=waivers,
            checks=checks,
            diff=diff,
        )

    def list_requests(
        self,
        ctx: Context,
        *,
        state: str | None = "open",
        model: str | None = None,
        alias: str | None = None,
        requested_by: str | None = None,
        waiting_for: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[RequestRead]:
        """Requests newest first. ``state``: one state, ``open`` (open or approved),
        ``closed`` or None for all. ``waiting_for``: open requests that principal may
        approve and has not reviewed yet (an inbox)."""
        limit = check_limit(limit)
        query = (
            select(promotion_requests, models.c.name.label("model_name"))
            .join(models, models.c.id == promotion_requests.c.model_id)
            .where(ctx.access.readable(models.c.name))
            .order_by(promotion_requests.c.id.desc())
        )
        if waiting_for is not None:
            state = "open"
        if state == "open":
            query = query.where(promotion_requests.c.state.in_(OPEN_STATES))
        elif state == "closed":
            query = query.where(promotion_requests.c.state.not_in(OPEN_STATES))
        elif state is not None:
            if state not in STATES:
                raise InvalidInput(f"state {state!r} is not one of: open, closed, {STATES}")
            query = query.where(promotion_requests.c.state == state)
        if model is not None:
            query = query.where(models.c.name == model)
        if alias is not None:
            query = query.where(promotion_requests.c.alias == alias)
        if requested_by is not None:
            query = query.where(promotion_requests.c.requested_by == requested_by)
        if cursor:
            (before,) = decode_cursor(cursor, int)
            query = query.where(promotion_requests.c.id < before)
        items: list[RequestRead] = []
        more = False
        with self.units.read(ctx) as reading:
            conn = reading.conn
            mine = groups_of(conn, waiting_for) if waiting_for is not None else set()
            rows = conn.execute(query.limit(limit + 1 if waiting_for is None else 1000)).all()
            for row in rows:
                if waiting_for is not None and not _waits_for(conn, row, waiting_for, mine):
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append(read_request(conn, row, None, self.units.clock()))
        next_cursor = encode_cursor(items[-1].id) if more and items else None
        return Page[RequestRead](items=items, next_cursor=next_cursor)


def _waits_for(conn: Connection, row: Row[Any], who: str, mine: set[str]) -> bool:
    if who == row.requested_by:
        return False
    policy = policy_of(conn, row)
    if policy is None:
        return False
    needed = {a.group for a in policy.for_kind(row.kind).approvals}
    if not needed & mine:
        return False
    author = conn.execute(
        select(versions.c.created_by).where(versions.c.id == row.version_id)
    ).scalar_one()
    reviewed = conn.execute(
        select(request_reviews.c.id).where(
            request_reviews.c.request_id == row.id,
            request_reviews.c.principal == who,
            request_reviews.c.revision == row.revision,
        )
    ).first()
    return author != who and reviewed is None


def read_request(
    conn: Connection, row: Row[Any], fresh: Evaluation | None, now: datetime
) -> RequestRead:
    """``row`` (with ``model_name``) as the wire shows it; its requirements from
    ``fresh`` or else from the last stored evaluation."""
    if fresh is not None:
        results, passed, at = fresh.results, fresh.passed, now
    else:
        last = conn.execute(
            select(request_evaluations)
            .where(request_evaluations.c.request_id == row.id)
            .order_by(request_evaluations.c.id.desc())
            .limit(1)
        ).first()
        if last is None:
            results, passed, at = [], False, None
        else:
            stored = last.results.get("requirements", [])
            results = [RequirementResult.model_validate(r) for r in stored]
            passed, at = bool(last.passed), last.at
    numbers = dict(
        conn.execute(
            select(versions.c.id, versions.c.number).where(
                versions.c.id.in_([v for v in (row.version_id, row.base_version_id) if v])
            )
        ).all()
    )
    policy = policy_of(conn, row)
    return RequestRead(
        id=row.id,
        model=row.model_name,
        alias=row.alias,
        version=numbers[row.version_id],
        base_version=numbers.get(row.base_version_id) if row.base_version_id else None,
        kind=row.kind,
        reason=row.reason,
        state=row.state,
        revision=row.revision,
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        close_reason=row.close_reason,
        policy=f"{row.policy_name}@{row.policy_version}" if row.policy_name else None,
        auto_apply=bool(policy and policy.auto_apply),
        passed=passed,
        evaluated_at=at,
        requirements=results,
        missing=[f"{r.key}: {r.message}" for r in results if r.state not in PASSING],
    )
