"""Which policy governs an alias of a model: the most specific one in force."""

from __future__ import annotations

import pytest

from modeldepot.errors import PolicyNotFound
from modeldepot.governance.policies import (
    ApprovalRequirement,
    Requirements,
    RuleSpec,
    policy_for,
    policy_version,
)
from modeldepot.registry import Registry
from modeldepot.security.context import Context
from modeldepot.security.roles import Role
from tests.governance.helpers import FULL, source


def chosen(registry: Registry, model: str, risk: str | None, alias: str = "production") -> str:
    with registry.db.read() as conn:
        found = policy_for(conn, model, risk, alias)
    return found.ref if found is not None else "-"


def test_the_longest_prefix_then_the_risk_specific_then_the_name_wins(
    registry: Registry, admin: Context
) -> None:
    apply = registry.policies.apply
    apply(admin, source("everything", prefix=""))
    apply(admin, source("credit", prefix="credit"))
    apply(admin, source("credit-high", prefix="credit/", risk=["high", "unacceptable"]))
    apply(admin, source("b-scoring", prefix="credit/scoring"))
    apply(admin, source("a-scoring", prefix="credit/scoring"))
    assert chosen(registry, "ads/ranker", "high") == "everything@1"
    assert chosen(registry, "credit", None) == "credit@1"
    assert chosen(registry, "credit/limits", "minimal") == "credit@1"
    assert chosen(registry, "credit/limits", None) == "credit@1"
    assert chosen(registry, "credit/limits", "high") == "credit-high@1"
    assert chosen(registry, "credit/scoring/v2", "high") == "a-scoring@1"
    # "credit" covers "credit/…" and itself, never "creditors".
    assert chosen(registry, "creditors/x", "high") == "everything@1"
    # Another alias has no policy.
    assert chosen(registry, "credit/limits", "high", alias="staging") == "-"


def test_a_removed_policy_no_longer_governs(registry: Registry, admin: Context) -> None:
    registry.policies.apply(admin, source("wide", prefix=""))
    registry.policies.apply(admin, source("narrow", prefix="team"))
    assert chosen(registry, "team/m", None) == "narrow@1"
    registry.policies.remove(admin, "narrow")
    assert chosen(registry, "team/m", None) == "wide@1"
    registry.policies.apply(admin, source("narrow", prefix="team", soak_hours=2))
    assert chosen(registry, "team/m", None) == "narrow@3"


def test_a_policy_moved_to_another_alias_leaves_the_old_one(
    registry: Registry, admin: Context
) -> None:
    registry.policies.apply(admin, source("mover", alias="staging"))
    registry.policies.apply(admin, source("mover", alias="production"))
    assert chosen(registry, "m", None, alias="staging") == "-"
    assert chosen(registry, "m", None, alias="production") == "mover@2"


def test_the_policy_carries_every_requirement_and_its_rollback(
    registry: Registry, admin: Context
) -> None:
    registry.policies.apply(admin, FULL)
    with registry.db.read() as conn:
        policy = policy_for(conn, "credit/scoring", "high", "production")
        assert policy is not None
        assert policy_version(conn, "credit-production", 1) == policy
        with pytest.raises(PolicyNotFound):
            policy_version(conn, "credit-production", 2)
    assert (policy.prefix, policy.risk_levels, policy.auto_apply) == ("credit", ("high",), False)
    assert (policy.waiver_role, policy.request_expiry_days) == (Role.ADMIN, 14)
    promote = policy.for_kind("promote")
    assert promote == Requirements(
        approvals=(ApprovalRequirement("ml-leads", 1), ApprovalRequirement("risk", 1)),
        approval_expiry_days=30,
        rules=(
            RuleSpec("auc", 'version.metrics["auc"] >= 0.8', "AUC at least 0.8"),
            RuleSpec("fair", 'version.slices["auc"].all(s, version.slices["auc"][s] >= 0.75)'),
        ),
        checks=("bias-audit",),
        prior_stage="staging",
        soak_hours=24,
        deny_days=("sat", "sun"),
        deny_hours=(18, 8),
    )
    rollback = policy.for_kind("rollback")
    assert rollback.approvals == (ApprovalRequirement("ml-leads", 1),)
    assert (rollback.rules, rollback.checks, rollback.prior_stage) == ((), (), None)
    assert (rollback.soak_hours, rollback.deny_days, rollback.deny_hours) == (0, (), None)
    assert rollback.approval_expiry_days is None


def test_a_rollback_block_leaving_out_soak_needs_no_soak(
    registry: Registry, admin: Context
) -> None:
    rollback = {"approvals": [{"group": "leads"}], "rules": [], "checks": []}
    text = source("fast", prior_stage="staging", soak_hours=24, rollback=rollback)
    registry.policies.apply(admin, text)
    with registry.db.read() as conn:
        policy = policy_for(conn, "m", None, "production")
    assert policy is not None
    assert (policy.requirements.soak_hours, policy.requirements.prior_stage) == (24, "staging")
    assert (policy.rollback.soak_hours, policy.rollback.prior_stage) == (0, None)


def test_without_a_rollback_block_rollback_needs_what_promotion_needs(
    registry: Registry, admin: Context
) -> None:
    registry.policies.apply(admin, source("plain", approvals=["leads"], soak_hours=3))
    with registry.db.read() as conn:
        policy = policy_for(conn, "m", None, "production")
    assert policy is not None and policy.rollback == policy.requirements


def test_two_applies_taking_the_same_version_conflict(
    registry: Registry, admin: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modeldepot.errors import Conflict
    from modeldepot.governance import policy_service

    registry.policies.apply(admin, source("raced"))
    # As if another apply had committed version 1 after this one read the policy.
    monkeypatch.setattr(policy_service, "_newest", lambda conn, name: None)
    with pytest.raises(Conflict, match="apply it again"):
        registry.policies.apply(admin, source("raced", soak_hours=5))
    monkeypatch.undo()
    assert [p.version for p in registry.policies.history(admin, "raced")] == [1]
