"""Promotion requests: the only way a protected alias moves.

A request proposes pointing ``alias`` of a model at a version (``promote``) or back at
the version it held before (``rollback``). It records the alias's version when opened
(its base) and the policy in force (``governance/policies.py``). Lifecycle::

    open ──(every requirement met)──> approved ──apply──> applied
      │ ╰─ a required reviewer rejects ─> rejected
      ╰─ cancelled · superseded (another request for the alias applied) · expired

Each change is one unit of work; every state change re-evaluates the request and keeps
the evaluation (``request_evaluations``). Applying moves the alias through the same
``move_alias`` as every other path, marked in ``uow.applying`` so the protected-alias
guard lets exactly this move through; the model's row is locked first, so two
applications of requests for one alias run one after the other, and the second finds
its base moved (``REQUEST_BASE_MOVED``) or itself superseded (``REQUEST_CLOSED``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from modeldepot.db.tables import (
    models,
    promotion_requests,
    request_comments,
    request_evaluations,
    request_reviews,
    request_waivers,
    versions,
)
from modeldepot.errors import (
    AlreadyReviewed,
    Forbidden,
    InvalidInput,
    NotAReviewer,
    RequestBaseMoved,
    RequestNotReady,
    SelfApproval,
    VersionRevoked,
)
from modeldepot.governance.evaluation import WAIVABLE, Evaluation, Subject, evaluate
from modeldepot.governance.policies import Policy, policy_for
from modeldepot.governance.request_facts import (
    OPEN_STATES,
    checked_text,
    current_version_id,
    groups_of,
    model_name_of,
    not_found,
    number_of,
    policy_of,
    previous_version,
    request_row,
    require_open,
    subject_of,
    target_of,
)
from modeldepot.refs import validate_alias
from modeldepot.registry.aliases import move_alias
from modeldepot.registry.lookup import model_row, version_row
from modeldepot.registry.unit import UnitOfWork, Units
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


class RequestService:
    """Open, review, comment on, cancel, waive and apply promotion requests."""

    def __init__(self, units: Units) -> None:
        self.units = units

    # --- opening -------------------------------------------------------------------
    def open(self, ctx: Context, name: str, number: int, alias: str, reason: str = "") -> int:
        """Open a request to point ``alias`` of ``name`` at version ``number``."""
        validate_alias(alias)
        reason = checked_text("reason", reason)
        with self.units.write(ctx) as uow:
            uow.require(Permission.REQUEST_OPEN, name)
            model = model_row(uow.conn, name)
            version = version_row(uow.conn, model, number)
            return self._open(uow, model, version, alias, reason, "promote")

    def open_rollback(self, ctx: Context, name: str, alias: str, reason: str = "") -> int:
        """Open a request to move ``alias`` back to the most recent version it held
        before its current one that is neither deleted nor revoked."""
        validate_alias(alias)
        reason = checked_text("reason", reason)
        with self.units.write(ctx) as uow:
            uow.require(Permission.REQUEST_OPEN, name)
            conn = uow.conn
            model = model_row(conn, name)
            target = previous_version(conn, model.id, alias)
            if target is None:
                raise InvalidInput(
                    f"{name}@{alias} held no earlier live, unrevoked version to roll back to",
                    model=name,
                    alias=alias,
                )
            return self._open(uow, model, target, alias, reason, "rollback")

    def _open(
        self,
        uow: UnitOfWork,
        model: Row[Any],
        version: Row[Any],
        alias: str,
        reason: str,
        kind: str,
    ) -> int:
        conn = uow.conn
        if version.status == "revoked":
            raise VersionRevoked(
                f"{model.name}:{version.number} is revoked and cannot be promoted",
                model=model.name,
                number=version.number,
            )
        current = current_version_id(conn, model.id, alias)
        if current == version.id:
            raise InvalidInput(
                f"{model.name}@{alias} already points at version {version.number}",
                model=model.name,
            )
        policy = policy_for(conn, model.name, model.risk_level, alias)
        request_id = int(
            conn.execute(
                insert(promotion_requests)
                .values(
                    model_id=model.id,
                    alias=alias,
                    version_id=version.id,
                    base_version_id=current,
                    kind=kind,
                    reason=reason,
                    state="open",
                    revision=1,
                    requested_by=uow.ctx.name,
                    created_at=uow.now,
                    updated_at=uow.now,
                    policy_name=policy.name if policy else None,
                    policy_version=policy.version if policy else None,
                )
                .returning(promotion_requests.c.id)
            ).scalar_one()
        )
        uow.record(
            "request.open",
            f"{model.name}@{alias}#{request_id}",
            model=model.name,
            after={
                "request": request_id,
                "kind": kind,
                "alias": alias,
                "version": version.number,
                "base": number_of(conn, current),
                "policy": f"{policy.name}@{policy.version}" if policy else None,
                "reason": reason,
            },
        )
        self.reevaluate(uow, request_id)
        return request_id

    # --- reviewing -----------------------------------------------------------------
    def review(self, ctx: Context, request_id: int, verdict: str, comment: str = "") -> None:
        """Approve or reject, as a member of a group the policy needs approvals from."""
        if verdict not in ("approve", "reject"):
            raise InvalidInput(f"verdict {verdict!r} is not approve or reject")
        comment = checked_text("comment", comment)
        with self.units.write(ctx) as uow:
            row, subject, policy = self._load(uow, request_id, Permission.REQUEST_REVIEW)
            require_open(row)
            if ctx.name in (subject.requested_by, subject.version_author):
                who = "opened the request" if ctx.name == subject.requested_by else "pushed it"
                raise SelfApproval(
                    f"{ctx.name} {who}: neither the requester nor the version's author may "
                    "review it",
                    request=request_id,
                )
            needed = {a.group for a in policy.for_kind(subject.kind).approvals} if policy else set()
            mine = sorted(needed & groups_of(uow.conn, ctx.name))
            if not mine:
                raise NotAReviewer(
                    f"request {request_id} needs approvals from "
                    f"{', '.join(sorted(needed)) or 'nobody'}; you are in none of them",
                    request=request_id,
                    groups=sorted(needed),
                )
            earlier = uow.conn.execute(
                select(request_reviews.c.id).where(
                    request_reviews.c.request_id == request_id,
                    request_reviews.c.principal == ctx.name,
                    request_reviews.c.revision == row.revision,
                )
            ).first()
            if earlier is not None:
                raise AlreadyReviewed(
                    f"you already reviewed revision {row.revision} of request {request_id}",
                    request=request_id,
                )
            uow.conn.execute(
                insert(request_reviews).values(
                    request_id=request_id,
                    principal=ctx.name,
                    verdict=verdict,
                    revision=row.revision,
                    groups=mine,
                    comment=comment,
                    at=uow.now,
                )
            )
            target = target_of(subject, request_id)
            uow.record(
                "request.review",
                target,
                model=subject.model_name,
                after={"verdict": verdict, "groups": mine, "revision": row.revision},
            )
            if verdict == "reject":
                self.close_request(
                    uow, row, subject, "rejected", comment or "rejected by a reviewer"
                )
                uow.record("request.reject", target, model=subject.model_name)
                return
            self.reevaluate(uow, request_id)

    def comment(self, ctx: Context, request_id: int, body: str) -> None:
        body = checked_text("comment", body, required=True)
        with self.units.write(ctx) as uow:
            _, subject, _ = self._load(uow, request_id, Permission.REQUEST_REVIEW)
            uow.conn.execute(
                insert(request_comments).values(
                    request_id=request_id, principal=ctx.name, body=body, at=uow.now
                )
            )
            uow.record(
                "request.comment",
                target_of(subject, request_id),
                model=subject.model_name,
                after={"body": body},
            )

    def cancel(self, ctx: Context, request_id: int, reason: str = "") -> None:
        """Cancel an open request: its requester, or a maintainer of the model."""
        reason = checked_text("reason", reason)
        with self.units.write(ctx) as uow:
            row, subject, _ = self._load(uow, request_id, Permission.REQUEST_OPEN)
            require_open(row)
            if ctx.name != row.requested_by:
                uow.require(Permission.MODEL_MANAGE, subject.model_name)
            self.close_request(uow, row, subject, "cancelled", reason or "cancelled")
            uow.record(
                "request.cancel",
                target_of(subject, request_id),
                model=subject.model_name,
                after={"reason": reason},
            )

    def waive(
        self, ctx: Context, request_id: int, requirement: str, reason: str, hours: float
    ) -> None:
        """Waive a failing rule, check, stage or window requirement until an expiry; needs
        the policy's waiver role (admin unless it says otherwise) on the model."""
        reason = checked_text("reason", reason, required=True)
        if not 0 < hours <= 24 * 365:
            raise InvalidInput("a waiver lasts more than 0 and at most 8,760 hours")
        with self.units.write(ctx) as uow:
            row, subject, policy = self._load(uow, request_id, Permission.REQUEST_REVIEW)
            require_open(row)
            evaluation = self._evaluate(uow.conn, subject, policy, uow)
            found = {r.key: r for r in evaluation.results}
            if requirement not in found or found[requirement].kind not in WAIVABLE:
                waivable = [r.key for r in evaluation.results if r.kind in WAIVABLE]
                raise InvalidInput(
                    f"{requirement!r} is not a waivable requirement of request {request_id} "
                    f"(waivable: {', '.join(waivable) or 'none'})",
                    requirement=requirement,
                )
            role = policy.waiver_role if policy else None
            held = ctx.access.role_on(subject.model_name)
            if role is None or held is None or held < role:
                raise Forbidden(
                    f"waiving needs the role {role.label if role else 'admin'} on "
                    f"{subject.model_name!r}",
                    permission="request:waive",
                )
            uow.conn.execute(
                insert(request_waivers).values(
                    request_id=request_id,
                    requirement=requirement,
                    reason=reason,
                    expires_at=uow.now + timedelta(hours=hours),
                    created_at=uow.now,
                    created_by=ctx.name,
                )
            )
            uow.record(
                "request.waive",
                target_of(subject, request_id),
                model=subject.model_name,
                after={"requirement": requirement, "reason": reason, "hours": hours},
            )
            self.reevaluate(uow, request_id)

    # --- applying ------------------------------------------------------------------
    def apply(self, ctx: Context, request_id: int) -> None:
        """Move the alias as the request says, if every requirement is met."""
        with self.units.write(ctx) as uow:
            self._apply(uow, request_id, Permission.REQUEST_OPEN)

    def _apply(self, uow: UnitOfWork, request_id: int, permission: Permission | None) -> None:
        """``permission`` None: applied by its policy (auto-apply), not by the caller."""
        conn = uow.conn
        row, _, _ = self._load(uow, request_id, permission)
        # One application per model at a time (SQLite's single writer does this there).
        conn.execute(select(models.c.id).where(models.c.id == row.model_id).with_for_update())
        row, subject, policy = self._load(uow, request_id, None)
        require_open(row)
        if subject.current_version_id != subject.base_version_id:
            raise RequestBaseMoved(
                f"{subject.model_name}@{subject.alias} moved since request {request_id} was "
                "opened; open a new request",
                request=request_id,
                current=number_of(conn, subject.current_version_id),
            )
        evaluation = self._evaluate(conn, subject, policy, uow)
        if not evaluation.passed:
            raise RequestNotReady(
                f"request {request_id} does not meet its policy yet",
                request=request_id,
                missing=evaluation.missing,
            )
        version = conn.execute(
            select(versions.c.number).where(versions.c.id == subject.version_id)
        ).scalar_one()
        uow.applying[(subject.model_id, subject.alias)] = request_id
        move_alias(uow, subject.model_name, subject.alias, version)
        self._store(uow, request_id, evaluation, always=True)
        self.close_request(uow, row, subject, "applied", "applied")
        uow.record(
            "request.apply",
            target_of(subject, request_id),
            model=subject.model_name,
            after={"alias": subject.alias, "version": version},
        )
        self._supersede(uow, subject, request_id)

    def _supersede(self, uow: UnitOfWork, subject: Subject, applied: int) -> None:
        conn = uow.conn
        base = promotion_requests.c.base_version_id
        rivals = conn.execute(
            select(promotion_requests).where(
                promotion_requests.c.model_id == subject.model_id,
                promotion_requests.c.alias == subject.alias,
                promotion_requests.c.state.in_(OPEN_STATES),
                promotion_requests.c.id != applied,
                base.is_(None)
                if subject.base_version_id is None
                else base == subject.base_version_id,
            )
        ).all()
        for rival in rivals:
            self.close_request(uow, rival, subject, "superseded", f"request {applied} was applied")
            uow.record(
                "request.supersede",
                target_of(subject, rival.id),
                model=subject.model_name,
                after={"by": applied},
            )

    # --- evaluation ----------------------------------------------------------------
    def reevaluate(self, uow: UnitOfWork, request_id: int) -> Evaluation:
        """Evaluate an open request now, keep the evaluation, move it between open and
        approved, and apply it when its policy says so and everything passes."""
        row, subject, policy = self._load(uow, request_id, None)
        evaluation = self._evaluate(uow.conn, subject, policy, uow)
        self._store(uow, request_id, evaluation)
        if row.state not in OPEN_STATES:
            return evaluation
        state = "approved" if evaluation.passed else "open"
        if state != row.state:
            uow.conn.execute(
                update(promotion_requests)
                .where(promotion_requests.c.id == request_id)
                .values(state=state, updated_at=uow.now)
            )
            if state == "approved":
                uow.record(
                    "request.approve", target_of(subject, request_id), model=subject.model_name
                )
        if evaluation.passed and policy is not None and policy.auto_apply:
            self._apply(uow, request_id, None)
        return evaluation

    def _evaluate(
        self, conn: Connection, subject: Subject, policy: Policy | None, uow: UnitOfWork
    ) -> Evaluation:
        return evaluate(conn, subject, policy, uow.now)

    def _store(
        self, uow: UnitOfWork, request_id: int, evaluation: Evaluation, *, always: bool = False
    ) -> None:
        """Keep ``evaluation`` unless it finds what the last kept one found (the same
        state of every requirement on the same record): a sweep every few minutes over
        a request waiting for days adds nothing then. ``always``: the evaluation an
        application was decided on."""
        digest = evaluation.record_digest
        last = uow.conn.execute(
            select(request_evaluations.c.results)
            .where(request_evaluations.c.request_id == request_id)
            .order_by(request_evaluations.c.id.desc())
            .limit(1)
        ).scalar()
        seen = last is not None and last.get("record_digest") == digest
        states = [[r.key, r.state] for r in evaluation.results]
        if seen and not always and [[r["key"], r["state"]] for r in last["requirements"]] == states:
            return
        uow.conn.execute(
            insert(request_evaluations).values(
                request_id=request_id,
                at=uow.now,
                passed=evaluation.passed,
                results=evaluation.stored(with_record=digest is not None and not seen),
            )
        )

    def _load(
        self, uow: UnitOfWork, request_id: int, permission: Permission | None
    ) -> tuple[Row[Any], Subject, Policy | None]:
        conn = uow.conn
        row = request_row(conn, request_id)
        name = model_name_of(conn, row.model_id)
        if permission is not None:
            if not uow.ctx.access.may(Permission.MODEL_READ, name):
                raise not_found(request_id)
            uow.require(permission, name)
        return row, subject_of(conn, row, name), policy_of(conn, row)

    def close_request(
        self, uow: UnitOfWork, row: Row[Any], subject: Subject, state: str, reason: str
    ) -> None:
        uow.conn.execute(
            update(promotion_requests)
            .where(promotion_requests.c.id == row.id)
            .values(
                state=state,
                updated_at=uow.now,
                closed_at=uow.now,
                closed_by=uow.ctx.name,
                close_reason=reason,
            )
        )
