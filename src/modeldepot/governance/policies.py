# TEMPORARY (lead's scaffold until H1's branch merges; removed before merge)
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modeldepot.security.roles import Role


@dataclass(frozen=True)
class ApprovalRequirement:
    group: str
    count: int = 1


@dataclass(frozen=True)
class RuleSpec:
    name: str
    expression: str
    description: str = ""


@dataclass(frozen=True)
class Requirements:
    approvals: tuple[ApprovalRequirement, ...] = ()
    approval_expiry_days: float | None = None
    rules: tuple[RuleSpec, ...] = ()
    checks: tuple[str, ...] = ()
    prior_stage: str | None = None
    soak_hours: float = 0
    deny_days: tuple[str, ...] = ()
    deny_hours: tuple[int, int] | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    version: int
    alias: str
    prefix: str
    risk_levels: tuple[str, ...]
    requirements: Requirements
    rollback: Requirements
    auto_apply: bool = False
    waiver_role: Role = Role.ADMIN
    request_expiry_days: float | None = None

    def for_kind(self, kind: str) -> Requirements:
        return self.rollback if kind == "rollback" else self.requirements


def policy_for(conn: Any, model_name: str, risk: str | None, alias: str) -> Policy | None:
    return None


def policy_version(conn: Any, name: str, version: int) -> Policy:
    raise LookupError(name)
