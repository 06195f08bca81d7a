"""Policies: what a version must meet before an alias of a model may point at it.

Every version of every policy is a row of ``policies``; the highest version of a name
is in force unless it is a removal. ``policy_for`` picks the one policy governing an
alias of a model; promotion requests (``governance/requests.py``) evaluate its
``requirements`` (or its ``rollback`` fast path). The YAML format is checked in
``governance/policyspec.py``; the service applying it is ``governance/policy_service.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select

from modeldepot.db.tables import policies
from modeldepot.errors import InvalidInput, PolicyNotFound
from modeldepot.security.roles import Role, covers


@dataclass(frozen=True)
class ApprovalRequirement:
    group: str
    count: int = 1  # >= 1


@dataclass(frozen=True)
class RuleSpec:
    name: str
    expression: str
    description: str = ""


@dataclass(frozen=True)
class Requirements:
    approvals: tuple[ApprovalRequirement, ...] = ()
    approval_expiry_days: float | None = None  # approvals older than this stop counting
    rules: tuple[RuleSpec, ...] = ()
    checks: tuple[str, ...] = ()  # external check names that must be "pass"
    prior_stage: str | None = None  # alias the version must have been at...
    soak_hours: float = 0  # ...for at least this long
    deny_days: tuple[str, ...] = ()  # "mon".."sun" (UTC): no application then
    deny_hours: tuple[int, int] | None = None  # [start, end) UTC hours, may wrap midnight


@dataclass(frozen=True)
class Policy:
    name: str
    version: int
    alias: str
    prefix: str
    risk_levels: tuple[str, ...]
    requirements: Requirements
    # The rollback fast path; equals ``requirements`` unless the YAML overrides it.
    rollback: Requirements
    auto_apply: bool = False
    waiver_role: Role = Role.ADMIN  # the role on the model needed to waive a requirement
    request_expiry_days: float | None = None

    def for_kind(self, kind: str) -> Requirements:
        """The requirements of a request of ``kind``: ``promote`` or ``rollback``."""
        if kind == "promote":
            return self.requirements
        if kind == "rollback":
            return self.rollback
        raise InvalidInput(f"request kind {kind!r} is not promote or rollback")

    @property
    def ref(self) -> str:
        """``name@version``, as requests name the policy they were evaluated under."""
        return f"{self.name}@{self.version}"


def requirements_from_spec(spec: dict[str, Any]) -> Requirements:
    """Requirements of a normalised spec (or its ``rollback`` part)."""
    windows = spec.get("windows") or {}
    hours = windows.get("deny_hours")
    return Requirements(
        approvals=tuple(ApprovalRequirement(a["group"], a["count"]) for a in spec["approvals"]),
        approval_expiry_days=spec.get("approval_expiry_days"),
        rules=tuple(
            RuleSpec(r["name"], r["expression"], r.get("description", "")) for r in spec["rules"]
        ),
        checks=tuple(spec["checks"]),
        prior_stage=spec.get("prior_stage"),
        soak_hours=spec.get("soak_hours") or 0,
        deny_days=tuple(windows.get("deny_days") or ()),
        deny_hours=(hours[0], hours[1]) if hours else None,
    )


def policy_from_spec(spec: dict[str, Any], version: int) -> Policy:
    """The policy a normalised spec (``policyspec.parse_policy``) describes."""
    return Policy(
        name=spec["name"],
        version=version,
        alias=spec["alias"],
        prefix=spec["prefix"],
        risk_levels=tuple(spec["risk"]),
        requirements=requirements_from_spec(spec),
        rollback=requirements_from_spec(spec["rollback"]),
        auto_apply=spec["auto_apply"],
        waiver_role=Role.parse(spec["waiver_role"]),
        request_expiry_days=spec.get("request_expiry_days"),
    )


def in_force(conn: Connection, alias: str | None = None) -> list[Row[Any]]:
    """The row in force of every policy not removed (of ``alias`` only, if given),
    by name: each name's highest version, in one query."""
    newest = (
        select(policies.c.name, func.max(policies.c.version).label("version"))
        .group_by(policies.c.name)
        .subquery()
    )
    query = (
        select(policies)
        .join(
            newest,
            and_(policies.c.name == newest.c.name, policies.c.version == newest.c.version),
        )
        .where(policies.c.removed.is_(False))
        .order_by(policies.c.name)
    )
    if alias is not None:
        query = query.where(policies.c.alias == alias)
    return list(conn.execute(query).all())


def policy_for(conn: Connection, model_name: str, risk: str | None, alias: str) -> Policy | None:
    """The policy governing ``alias`` of model ``model_name`` (of risk level ``risk``),
    or None. Candidates: policies in force for that alias whose prefix covers the model
    and whose risk levels are empty or hold ``risk``. The most specific wins: the
    longest prefix, then a risk-specific policy over an any-risk one, then name order.
    """
    candidates = []
    for row in in_force(conn, alias):
        levels = _levels(row.risk_levels)
        if not covers(row.prefix, model_name):
            continue
        if levels and (risk is None or risk not in levels):
            continue
        candidates.append(((-len(row.prefix), 0 if levels else 1, row.name), row))
    if not candidates:
        return None
    _, row = min(candidates, key=lambda pair: pair[0])
    return policy_from_spec(row.spec, row.version)


def policy_version(conn: Connection, name: str, version: int) -> Policy:
    """Version ``version`` of policy ``name`` (PolicyNotFound if absent or a removal)."""
    row = conn.execute(
        select(policies).where(policies.c.name == name, policies.c.version == version)
    ).first()
    if row is None or row.removed:
        raise PolicyNotFound(f"policy {name!r} has no version {version}")
    return policy_from_spec(row.spec, row.version)


def _levels(text: str) -> tuple[str, ...]:
    return tuple(level for level in text.split(",") if level)
