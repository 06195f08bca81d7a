"""What keeps open promotion requests current: in-transaction subscribers that
re-evaluate them when their evidence changes, and a sweep for what time changes.

A change to what reviewers saw (the version's tags or metrics, the model's card, risk
or tags) makes a new revision of each open request on it: approvals given to an earlier
revision stop counting. The sweep expires requests past their policy's
``request_expiry_days`` and re-evaluates the rest (soak periods end, windows open,
freezes lift, approvals expire), applying those whose policy auto-applies.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from modeldepot.db.tables import promotion_requests
from modeldepot.governance.request_facts import (
    OPEN_STATES,
    model_name_of,
    policy_of,
    subject_of,
    target_of,
)
from modeldepot.governance.requests import RequestService
from modeldepot.registry.unit import Change, UnitOfWork, Units
from modeldepot.security.context import Context

log = logging.getLogger("modeldepot.governance")

# The actions that change what a request's reviewers saw, and the fact naming what.
VERSION_EVIDENCE = ("version.tag.set", "version.tag.delete", "version.metrics.add")
MODEL_EVIDENCE = ("model.update", "model.card.set", "model.tag.set", "model.tag.delete")


class RequestFollowers:
    def __init__(self, units: Units, requests: RequestService) -> None:
        self.units = units
        self.requests = requests

    def subscribe(self) -> None:
        for action in VERSION_EVIDENCE:
            self.units.subscribe(action, self.version_changed)
        for action in MODEL_EVIDENCE:
            self.units.subscribe(action, self.model_changed)
        for action in ("version.deprecate", "version.revoke", "version.reinstate"):
            self.units.subscribe(action, self.status_changed)

    def version_changed(self, uow: UnitOfWork, change: Change) -> None:
        self._revise(uow, promotion_requests.c.version_id == change.facts["version_id"])

    def model_changed(self, uow: UnitOfWork, change: Change) -> None:
        self._revise(uow, promotion_requests.c.model_id == change.facts["model_id"])

    def status_changed(self, uow: UnitOfWork, change: Change) -> None:
        ids = uow.conn.execute(
            select(promotion_requests.c.id).where(
                promotion_requests.c.version_id == change.facts["version_id"],
                promotion_requests.c.state.in_(OPEN_STATES),
            )
        ).scalars()
        for request_id in list(ids):
            self.requests.reevaluate(uow, request_id)

    def _revise(self, uow: UnitOfWork, which: object) -> None:
        conn = uow.conn
        ids = list(
            conn.execute(
                select(promotion_requests.c.id).where(
                    which,  # type: ignore[arg-type]
                    promotion_requests.c.state.in_(OPEN_STATES),
                )
            ).scalars()
        )
        for request_id in ids:
            conn.execute(
                update(promotion_requests)
                .where(promotion_requests.c.id == request_id)
                .values(revision=promotion_requests.c.revision + 1, updated_at=uow.now)
            )
            self.requests.reevaluate(uow, request_id)

    def sweep(self, ctx: Context) -> int:
        """Expire or re-evaluate every open request, each in its own unit of work;
        return how many changed state."""
        with self.units.read(ctx) as reading:
            ids = list(
                reading.conn.execute(
                    select(promotion_requests.c.id)
                    .where(promotion_requests.c.state.in_(OPEN_STATES))
                    .order_by(promotion_requests.c.id)
                ).scalars()
            )
        changed = 0
        for request_id in ids:
            try:
                changed += self._sweep_one(ctx, request_id)
            except Exception:
                log.exception("sweeping promotion request %d failed", request_id)
        return changed

    def _sweep_one(self, ctx: Context, request_id: int) -> int:
        with self.units.write(ctx) as uow:
            conn = uow.conn
            row = conn.execute(
                select(promotion_requests).where(promotion_requests.c.id == request_id)
            ).one()
            if row.state not in OPEN_STATES:
                return 0
            policy = policy_of(conn, row)
            days = policy.request_expiry_days if policy else None
            if days is not None and uow.now - row.created_at > timedelta(days=days):
                subject = subject_of(conn, row, model_name_of(conn, row.model_id))
                self.requests.close_request(
                    uow, row, subject, "expired", f"open over {days:g} days"
                )
                uow.record(
                    "request.expire", target_of(subject, request_id), model=subject.model_name
                )
                return 1
            self.requests.reevaluate(uow, request_id)
            after = conn.execute(
                select(promotion_requests.c.state).where(promotion_requests.c.id == request_id)
            ).scalar_one()
            return int(after != row.state)
