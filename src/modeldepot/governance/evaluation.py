"""Evaluating a promotion request against its policy: every requirement with its state,
what it saw and why, so "why was this allowed?" has a complete answer later.

Always required, policy or not: the version is not revoked, the alias still points
where it did when the request was opened, and no freeze covers the model. A policy adds
approvals per group, rules over the version's record, external checks, a prior stage
with a soak time and time windows. A waiver turns a failing or pending rule, check,
stage or window into ``waived``; approvals, revocation, a moved base and freezes cannot
be waived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select

from modeldepot.db.tables import alias_events, request_reviews, request_waivers, version_checks
from modeldepot.governance.policies import Policy, Requirements
from modeldepot.governance.windows import active_freezes, closed_window
from modeldepot.schemas.governance import RequirementResult

WAIVABLE = ("rule", "check", "stage", "window")


@dataclass(frozen=True, slots=True)
class Subject:
    """What a request is about, read once per evaluation."""

    request_id: int
    kind: str  # promote | rollback
    revision: int
    requested_by: str
    model_id: int
    model_name: str
    alias: str
    version_id: int
    version_digest: str
    version_author: str
    version_status: str
    base_version_id: int | None
    current_version_id: int | None  # where the alias points now


@dataclass(frozen=True, slots=True)
class Evaluation:
    passed: bool
    results: list[RequirementResult]
    record: dict[str, Any] | None  # the version's record the rules saw (None: no rules)

    @property
    def missing(self) -> list[str]:
        return [f"{r.key}: {r.message}" for r in self.results if r.state not in PASSING]

    @property
    def record_digest(self) -> str | None:
        """The SHA-256 of the record's canonical JSON (None without rules)."""
        if self.record is None:
            return None
        from modeldepot.audit.canonical import canonical
        from modeldepot.audit.chain import digest

        return digest(canonical(self.record))

    def stored(self, *, with_record: bool) -> dict[str, Any]:
        """The evaluation as kept in ``request_evaluations.results``: the record the
        rules saw is kept whole the first time the request sees it, and named by its
        digest after (a record can hold thousands of packages)."""
        out: dict[str, Any] = {
            "requirements": [r.model_dump(mode="json") for r in self.results],
            "record_digest": self.record_digest,
        }
        if with_record:
            out["record"] = self.record
        return out


PASSING = ("pass", "waived")


def evaluate(
    conn: Connection, subject: Subject, policy: Policy | None, now: datetime
) -> Evaluation:
    results = _always(conn, subject, now)
    record: dict[str, Any] | None = None
    if policy is not None:
        req = policy.for_kind(subject.kind)
        results += _approvals(conn, subject, req, now)
        if req.rules:
            from modeldepot.governance.expressions import evaluate_rules
            from modeldepot.governance.record import version_record

            record = version_record(conn, subject.model_id, subject.version_id)
            outcomes = evaluate_rules(req.rules, record)
            for rule, outcome in zip(req.rules, outcomes, strict=True):
                results.append(
                    RequirementResult(
                        key=f"rule:{rule.name}",
                        kind="rule",
                        state="pass" if outcome.passed else "fail",
                        message=outcome.message or (rule.description or rule.expression),
                        expression=rule.expression,
                        input=outcome.value,
                    )
                )
        results += _checks(conn, subject, req)
        stage = _stage(conn, subject, req, now)
        if stage is not None:
            results.append(stage)
        closed = closed_window(req, now)
        if req.deny_days or req.deny_hours:
            results.append(
                RequirementResult(
                    key="window",
                    kind="window",
                    state="pending" if closed else "pass",
                    message=closed or "within the policy's time windows",
                    input={"now": now.isoformat()},
                )
            )
    results = _apply_waivers(conn, subject, results, now)
    return Evaluation(all(r.state in PASSING for r in results), results, record)


def _always(conn: Connection, s: Subject, now: datetime) -> list[RequirementResult]:
    out = [
        RequirementResult(
            key="status",
            kind="status",
            state="fail" if s.version_status == "revoked" else "pass",
            message="the version is revoked"
            if s.version_status == "revoked"
            else f"the version is {s.version_status}",
        ),
        RequirementResult(
            key="base",
            kind="base",
            state="pass" if s.current_version_id == s.base_version_id else "fail",
            message="the alias is where it was when the request was opened"
            if s.current_version_id == s.base_version_id
            else "the alias moved since the request was opened: open a new request",
        ),
    ]
    frozen = active_freezes(conn, s.model_name, now)
    out.append(
        RequirementResult(
            key="freeze",
            kind="freeze",
            state="pending" if frozen else "pass",
            message=("frozen: " + "; ".join(frozen)) if frozen else "no freeze covers the model",
        )
    )
    return out


def counting_reviews(
    conn: Connection, s: Subject, req: Requirements, now: datetime
) -> list[Row[Any]]:
    """The approvals that count: of this revision, not expired, not by the requester or
    the version's author."""
    rows = conn.execute(
        select(request_reviews)
        .where(request_reviews.c.request_id == s.request_id)
        .order_by(request_reviews.c.id)
    ).all()
    expiry = (
        timedelta(days=req.approval_expiry_days) if req.approval_expiry_days is not None else None
    )
    return [
        r
        for r in rows
        if r.verdict == "approve"
        and r.revision == s.revision
        and r.principal not in (s.requested_by, s.version_author)
        and (expiry is None or now - r.at <= expiry)
    ]


def _approvals(
    conn: Connection, s: Subject, req: Requirements, now: datetime
) -> list[RequirementResult]:
    if not req.approvals:
        return []
    reviews = counting_reviews(conn, s, req, now)
    out = []
    for need in req.approvals:
        by = [r.principal for r in reviews if need.group in (r.groups or [])]
        out.append(
            RequirementResult(
                key=f"approvals:{need.group}",
                kind="approvals",
                state="pass" if len(by) >= need.count else "pending",
                message=f"{len(by)} of {need.count} approval(s) from {need.group}",
                input={"approved_by": by},
            )
        )
    return out


def _checks(conn: Connection, s: Subject, req: Requirements) -> list[RequirementResult]:
    if not req.checks:
        return []
    latest = latest_checks(conn, s.version_id, s.version_digest)
    out = []
    for name in req.checks:
        row = latest.get(name)
        state = "pending" if row is None or row.state == "pending" else row.state
        detail = "" if row is None else f" ({row.url})" if row.url else ""
        out.append(
            RequirementResult(
                key=f"check:{name}",
                kind="check",
                state="pass" if state == "pass" else "fail" if state == "fail" else "pending",
                message=f"{name}: {'not posted' if row is None else row.state}{detail}",
                input=None
                if row is None
                else {"state": row.state, "by": row.posted_by, "at": row.at.isoformat()},
            )
        )
    return out


def latest_checks(conn: Connection, version_id: int, digest: str) -> dict[str, Row[Any]]:
    """The last result of each check posted on the version's content."""
    rows = conn.execute(
        select(version_checks)
        .where(version_checks.c.version_id == version_id, version_checks.c.digest == digest)
        .order_by(version_checks.c.id)
    ).all()
    return {row.name: row for row in rows}


def _stage(
    conn: Connection, s: Subject, req: Requirements, now: datetime
) -> RequirementResult | None:
    if req.prior_stage is None:
        return None
    stays = stays_at(conn, s.model_id, req.prior_stage, s.version_id, now)
    soak = timedelta(hours=req.soak_hours)
    longest = max((end - start for start, end, _ in stays), default=None)
    at_stage_now = any(current for _, _, current in stays)
    key = f"stage:{req.prior_stage}"
    stayed = {"stays": [[a.isoformat(), b.isoformat()] for a, b, _ in stays]}
    if longest is not None and longest >= soak:
        hours = longest.total_seconds() / 3600
        return RequirementResult(
            key=key,
            kind="stage",
            state="pass",
            message=f"at {req.prior_stage} for {hours:.1f} h (needs {req.soak_hours:g} h)",
            input=stayed,
        )
    if at_stage_now:
        assert longest is not None
        left = (soak - longest).total_seconds() / 3600
        return RequirementResult(
            key=key,
            kind="stage",
            state="pending",
            message=f"at {req.prior_stage}: {left:.1f} h of soak left",
            input=stayed,
        )
    return RequirementResult(
        key=key,
        kind="stage",
        state="fail",
        message=f"the version has not been at {req.prior_stage} for {req.soak_hours:g} h",
        input=stayed,
    )


def stays_at(
    conn: Connection, model_id: int, alias: str, version_id: int, now: datetime
) -> list[tuple[datetime, datetime, bool]]:
    """Each span the model's ``alias`` pointed at the version: (from, to, still there)."""
    events = conn.execute(
        select(alias_events.c.at, alias_events.c.to_version_id)
        .where(alias_events.c.model_id == model_id, alias_events.c.alias == alias)
        .order_by(alias_events.c.id)
    ).all()
    stays: list[tuple[datetime, datetime, bool]] = []
    start: datetime | None = None
    for at, target in events:
        if start is not None:
            stays.append((start, at, False))
            start = None
        if target == version_id:
            start = at
    if start is not None:
        stays.append((start, now, True))
    return stays


def _apply_waivers(
    conn: Connection, s: Subject, results: list[RequirementResult], now: datetime
) -> list[RequirementResult]:
    rows = conn.execute(
        select(request_waivers).where(
            request_waivers.c.request_id == s.request_id, request_waivers.c.expires_at > now
        )
    ).all()
    waivers = {row.requirement: row for row in rows}
    out = []
    for result in results:
        waiver = waivers.get(result.key)
        if waiver is not None and result.kind in WAIVABLE and result.state not in PASSING:
            result = result.model_copy(
                update={
                    "state": "waived",
                    "waiver": {
                        "by": waiver.created_by,
                        "reason": waiver.reason,
                        "expires_at": waiver.expires_at.isoformat(),
                    },
                }
            )
        out.append(result)
    return out
