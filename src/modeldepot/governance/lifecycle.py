"""The lifecycle of a version: deprecate, revoke, reinstate, and revoke by dataset.

A version is ``active``, ``deprecated`` (usable; pulls warn and name the replacement)
or ``revoked`` (must not be used: the server refuses its manifest unless the caller
passes ``allow_revoked``). Each change is one unit of work needing
``Permission.VERSION_STATUS`` on the model, writes the ``versions.status*`` columns and
records ``version.deprecate``, ``version.revoke`` or ``version.reinstate`` with the
state before and after. A change to the state a version already has records nothing.

``revoke_by_dataset`` turns the dataset impact analysis (``registry/datasets.py``) into
a plan: every readable version that used the dataset, and every protected alias
pointing at one of them with the version to roll it back to. Applying it revokes them
all in one unit of work, then opens a rollback request for each such alias through
``open_rollback`` (the promotion-request service's, wired by the registry).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, select, update

from modeldepot.db.tables import aliases, models, versions
from modeldepot.errors import (
    Forbidden,
    InvalidInput,
    ModeldepotError,
    VersionNotFound,
    VersionRevoked,
)
from modeldepot.governance.protection import protected
from modeldepot.governance.request_facts import previous_version
from modeldepot.metadata import reject_nul
from modeldepot.registry.datasets import versions_used
from modeldepot.registry.lookup import VERSION_ROW, model_row, to_version_read
from modeldepot.registry.unit import UnitOfWork, Units
from modeldepot.schemas.lifecycle import (
    MAX_REASON,
    PlannedRevocation,
    PlannedRollback,
    RevocationPlan,
)
from modeldepot.schemas.versions import VersionRead
from modeldepot.security.access import Access
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission

NO_TARGET = "no earlier version in its history is neither in the plan, revoked nor deleted"
# (ctx, model, alias, reason) -> the request opened: its id, or a read with an ``id``.
OpenRollback = Callable[[Context, str, str, str], object]


class LifecycleService:
    """Deprecate, revoke and reinstate versions; revoke every version made from a dataset."""

    def __init__(self, units: Units, open_rollback: OpenRollback | None = None) -> None:
        self.units = units
        # Set by the registry once the promotion-request service exists.
        self.open_rollback = open_rollback

    def deprecate(
        self, ctx: Context, name: str, number: int, reason: str, replacement: int | None = None
    ) -> VersionRead:
        """Mark ``name:number`` deprecated, optionally naming the version to use instead
        (a live, not revoked, other version of the same model). A revoked version is
        refused (VersionRevoked): reinstate it first."""
        reason = check_reason(reason)
        with self.units.write(ctx) as uow:
            uow.require(Permission.VERSION_STATUS, name)
            row = _locked(uow.conn, name, number)
            if row.status == "revoked":
                raise VersionRevoked(
                    f"{name}:{number} is revoked; reinstate it before deprecating it",
                    model=name,
                    number=number,
                )
            if replacement is not None:
                _check_replacement(uow.conn, row.model_id, name, number, replacement)
            same = (row.status_reason, row.status_replacement) == (reason, replacement)
            if row.status != "deprecated" or not same:
                _set_status(uow, name, row, "deprecated", reason, replacement)
            return _reload(uow.conn, name, row.id)

    def revoke(self, ctx: Context, name: str, number: int, reason: str) -> VersionRead:
        """Mark ``name:number`` revoked: its manifest is refused to pulls from now on.
        Revoking a revoked version answers it as it is and records nothing."""
        reason = check_reason(reason)
        with self.units.write(ctx) as uow:
            uow.require(Permission.VERSION_STATUS, name)
            row = _locked(uow.conn, name, number)
            if row.status != "revoked":
                _set_status(uow, name, row, "revoked", reason, row.status_replacement)
            return _reload(uow.conn, name, row.id)

    def reinstate(self, ctx: Context, name: str, number: int, reason: str) -> VersionRead:
        """Make a deprecated or revoked version active again (the replacement is
        forgotten, the reason kept). An active version is answered as it is."""
        reason = check_reason(reason)
        with self.units.write(ctx) as uow:
            uow.require(Permission.VERSION_STATUS, name)
            row = _locked(uow.conn, name, number)
            if row.status != "active":
                _set_status(uow, name, row, "active", reason, None)
            return _reload(uow.conn, name, row.id)

    def revoke_by_dataset(
        self,
        ctx: Context,
        dataset: str,
        reason: str,
        *,
        apply: bool,
        digest: str | None = None,
    ) -> RevocationPlan:
        """The plan of revoking every readable version that used ``dataset`` (any
        snapshot unless ``digest``), with the protected aliases pointing at them and
        their rollback targets; DatasetNotFound if the caller can see no such dataset.

        With ``apply``, the versions not yet revoked are revoked in one unit of work
        (Forbidden, changing nothing, unless the caller may revoke every one), then a
        rollback request is opened for each protected alias that has a target; the plan
        answered says which request each got, or why none."""
        reason = check_reason(reason)
        if not apply:
            with self.units.read(ctx) as reading:
                planned, rollbacks = _plan(reading.conn, ctx.access, dataset, digest)
            return RevocationPlan(
                dataset=dataset,
                digest=digest,
                reason=reason,
                applied=False,
                versions=planned,
                aliases=rollbacks,
            )
        with self.units.write(ctx) as uow:
            planned, rollbacks = _plan(uow.conn, ctx.access, dataset, digest)
            refused = sorted({p.model for p in planned if not p.permitted})
            if refused:
                raise Forbidden(
                    f"{Permission.VERSION_STATUS.value} is needed on every model that used "
                    f"{dataset}; you lack it on {', '.join(refused)}: nothing was revoked",
                    permission=Permission.VERSION_STATUS.value,
                    models=refused,
                )
            for p in planned:
                if p.status == "revoked":
                    continue
                row = _locked(uow.conn, p.model, p.number)
                if row.status != "revoked":
                    _set_status(
                        uow, p.model, row, "revoked", reason, row.status_replacement, dataset
                    )
        for rollback in rollbacks:
            self._roll_back(ctx, rollback, reason)
        return RevocationPlan(
            dataset=dataset,
            digest=digest,
            reason=reason,
            applied=True,
            versions=planned,
            aliases=rollbacks,
        )

    def _roll_back(self, ctx: Context, rollback: PlannedRollback, reason: str) -> None:
        """Open the rollback request of one protected alias, noting why not if none."""
        if rollback.target is None:
            return
        if self.open_rollback is None:
            rollback.note = "no promotion-request service is configured to open a rollback"
            return
        try:
            opened = self.open_rollback(ctx, rollback.model, rollback.alias, reason)
        except ModeldepotError as exc:
            rollback.note = f"{exc.code}: {exc.detail}"
            return
        request = opened if isinstance(opened, int) else getattr(opened, "id", None)
        rollback.request = request if isinstance(request, int) else None


def check_reason(reason: str) -> str:
    """The reason of a status change, stripped: required, at most MAX_REASON long."""
    text = reject_nul("reason", reason).strip()
    if not text:
        raise InvalidInput("a reason is required: say why the version's status changes")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    return text


def _locked(conn: Connection, name: str, number: int) -> Row[Any]:
    """The version row, locked until the unit of work ends (deleted versions too: a
    deleted version can be restored, and its status should survive that)."""
    model = model_row(conn, name)
    row = conn.execute(
        select(*VERSION_ROW)
        .where(versions.c.model_id == model.id, versions.c.number == number)
        .with_for_update()
    ).first()
    if row is None:
        raise VersionNotFound(f"{name}:{number} does not exist", model=name, number=number)
    return row


def _check_replacement(
    conn: Connection, model_id: int, name: str, number: int, replacement: int
) -> None:
    if replacement == number:
        raise InvalidInput(
            f"{name}:{number} cannot replace itself: name another version",
            replacement=replacement,
        )
    found = conn.execute(
        select(versions.c.status, versions.c.deleted_at).where(
            versions.c.model_id == model_id, versions.c.number == replacement
        )
    ).first()
    if found is None or found.deleted_at is not None:
        state = "does not exist" if found is None else "is deleted"
        raise InvalidInput(f"the replacement {name}:{replacement} {state}", replacement=replacement)
    if found.status == "revoked":
        raise InvalidInput(
            f"the replacement {name}:{replacement} is revoked", replacement=replacement
        )


def _state(status: str, reason: str | None, replacement: int | None) -> dict[str, Any]:
    return {"status": status, "reason": reason, "replacement": replacement}


def _set_status(
    uow: UnitOfWork,
    name: str,
    row: Row[Any],
    status: str,
    reason: str,
    replacement: int | None,
    dataset: str | None = None,
) -> None:
    """Write the new status of ``row`` and record it."""
    who = uow.ctx.name
    uow.conn.execute(
        update(versions)
        .where(versions.c.id == row.id)
        .values(
            status=status,
            status_reason=reason,
            status_replacement=replacement,
            status_at=uow.now,
            status_by=who,
            updated_at=uow.now,
            updated_by=who,
        )
    )
    verb = {"active": "reinstate", "deprecated": "deprecate", "revoked": "revoke"}[status]
    after = _state(status, reason, replacement)
    if dataset is not None:
        after["dataset"] = dataset
    uow.record(
        f"version.{verb}",
        f"{name}:{row.number}",
        model=name,
        before=_state(row.status, row.status_reason, row.status_replacement),
        after=after,
        version_id=row.id,
    )


def _reload(conn: Connection, name: str, version_id: int) -> VersionRead:
    row = conn.execute(select(*VERSION_ROW).where(versions.c.id == version_id)).one()
    return to_version_read(conn, name, row)


def _plan(
    conn: Connection, access: Access, uri: str, digest: str | None
) -> tuple[list[PlannedRevocation], list[PlannedRollback]]:
    used = versions_used(conn, access, uri, digest)
    planned = [
        PlannedRevocation(
            model=r.name,
            number=r.number,
            status=r.status,
            deleted=r.deleted_at is not None,
            permitted=access.may(Permission.VERSION_STATUS, r.name),
        )
        for r in used
    ]
    ids = {r.id for r in used}
    if not ids:
        return planned, []
    pointing = conn.execute(
        select(
            models.c.name.label("model"),
            aliases.c.model_id,
            aliases.c.name.label("alias"),
            versions.c.number,
        )
        .join(versions, versions.c.id == aliases.c.version_id)
        .join(models, models.c.id == aliases.c.model_id)
        .where(aliases.c.version_id.in_(sorted(ids)))
        .order_by(models.c.name, aliases.c.name)
    ).all()
    rollbacks = []
    for a in pointing:
        if not protected(conn, a.model, a.alias):
            continue
        earlier = previous_version(conn, a.model_id, a.alias, ids)
        target = None if earlier is None else int(earlier.number)
        rollbacks.append(
            PlannedRollback(
                model=a.model,
                alias=a.alias,
                version=a.number,
                target=target,
                note="" if target is not None else NO_TARGET,
            )
        )
    return planned, rollbacks
