"""Promotion requests under a policy, over HTTP: approvals per group and who may give
them, rules, checks, prior stage and soak, windows, freezes, waivers, auto-apply,
rollback's fast path and expiry. Time moves with ``registry.units.clock``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modeldepot.registry import Registry
from modeldepot.security.context import Context
from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url, push

NAME = "credit/scorer"
POLICY = """
name: credit-production
alias: production
prefix: credit
risk: [high]
approvals: [{group: ml-leads, count: 1}, {group: risk, count: 1}]
approval_expiry_days: 7
rules:
  - {name: auc, expression: 'version.metrics["auc"] >= 0.8'}
checks: [bias-audit]
waiver_role: admin
request_expiry_days: 14
rollback: {approvals: [{group: ml-leads, count: 1}], rules: [], checks: []}
"""
STAGING = """
name: credit-staging
alias: staging
prefix: credit
approvals: [{group: ml-leads}]
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(registry: Registry) -> Iterator[Clock]:
    clock = Clock()
    registry.units.clock = clock
    yield clock


@pytest.fixture
def people(api: TestClient, registry: Registry) -> dict[str, dict[str, str]]:
    ctx = Context.system("tests")
    heads = {
        "dana": as_user(api, "dana", "contributor", "credit"),
        "leo": as_user(api, "leo", "reader", "credit"),
        "rita": as_user(api, "rita", "reader", "credit"),
        "max": as_user(api, "max", "reader", "credit"),
    }
    for group, member in (("ml-leads", "leo"), ("risk", "rita"), ("ml-leads", "dana")):
        if group not in {g.name for g in registry.identity.list_groups(ctx).items}:
            registry.identity.create_group(ctx, group)
        registry.identity.add_member(ctx, group, member)
    return heads


def apply_policy(api: TestClient, source: str) -> None:
    assert_json(api.post(f"{API}/policies", json={"source": source}), 201)


def high_risk_model(api: TestClient, people: dict[str, dict[str, str]], **push_fields: Any) -> Any:
    version = push(api, NAME, metrics={"auc": 0.85}, **push_fields)
    assert_json(api.patch(model_url(NAME), json={"risk_level": "high"}), 200)
    return version


def promote(
    api: TestClient, headers: dict[str, str], version: int = 1, alias: str = "production"
) -> Any:
    body = {"version": version, "alias": alias, "reason": "r"}
    return assert_json(api.post(model_url(NAME, "requests"), json=body, headers=headers), 201)


def review(
    api: TestClient, request_id: int, headers: dict[str, str], verdict: str = "approve"
) -> Any:
    return api.post(
        f"{API}/requests/{request_id}/reviews", json={"verdict": verdict}, headers=headers
    )


def states(request: Any) -> dict[str, str]:
    return {r["key"]: r["state"] for r in request["requirements"]}


def post_check(api: TestClient, digest: str, state: str = "pass") -> None:
    body = {"name": "bias-audit", "state": state, "digest": digest}
    assert_json(api.post(model_url(NAME, "versions", "1", "checks"), json=body), 201)


def test_approvals_rules_and_checks_gate_the_request(
    api: TestClient, people: dict[str, dict[str, str]], clock: Clock
) -> None:
    apply_policy(api, POLICY)
    version = high_risk_model(api, people)
    request = promote(api, people["dana"])
    assert request["policy"] == "credit-production@1"
    assert states(request) == {
        "status": "pass",
        "base": "pass",
        "freeze": "pass",
        "approvals:ml-leads": "pending",
        "approvals:risk": "pending",
        "rule:auc": "pass",
        "check:bias-audit": "pending",
    }
    rid = request["id"]
    body = assert_problem(
        api.post(f"{API}/requests/{rid}/apply", headers=people["dana"]), 409, "REQUEST_NOT_READY"
    )
    assert len(body["missing"]) == 3
    # The requester (also in ml-leads) and the version's author may not approve.
    assert_problem(review(api, rid, people["dana"]), 403, "SELF_APPROVAL")
    assert_problem(review(api, rid, people["max"]), 403, "NOT_A_REVIEWER")
    assert_json(review(api, rid, people["leo"]), 200)
    assert_problem(review(api, rid, people["leo"]), 409, "ALREADY_REVIEWED")
    post_check(api, version["digest"], "pending")
    after = assert_json(review(api, rid, people["rita"]), 200)
    assert (after["state"], states(after)["check:bias-audit"]) == ("open", "pending")
    post_check(api, version["digest"])
    ready = assert_json(api.get(f"{API}/requests/{rid}"), 200)
    assert (ready["state"], ready["passed"], ready["missing"]) == ("approved", True, [])
    assert [(r["principal"], r["counts"]) for r in ready["reviews"]] == [
        ("leo", True),
        ("rita", True),
    ]
    applied = assert_json(api.post(f"{API}/requests/{rid}/apply", headers=people["dana"]), 200)
    assert applied["state"] == "applied"
    assert_problem(review(api, rid, people["rita"]), 409, "REQUEST_CLOSED")


def test_a_change_of_evidence_needs_approval_again(
    api: TestClient, people: dict[str, dict[str, str]], clock: Clock
) -> None:
    apply_policy(api, POLICY)
    high_risk_model(api, people)
    rid = promote(api, people["dana"])["id"]
    assert_json(review(api, rid, people["leo"]), 200)
    api.put(model_url(NAME, "versions", "1", "tags", "note"), json={"value": "retrained"})
    request = assert_json(api.get(f"{API}/requests/{rid}"), 200)
    assert request["revision"] == 2
    assert states(request)["approvals:ml-leads"] == "pending"
    assert [r["counts"] for r in request["reviews"]] == [False]
    assert_json(review(api, rid, people["leo"]), 200)  # a new revision may be reviewed
    clock.advance(days=8)  # approval_expiry_days: 7
    assert (
        states(assert_json(api.get(f"{API}/requests/{rid}"), 200))["approvals:ml-leads"]
        == "pending"
    )


def test_a_failing_rule_passes_once_metrics_are_added_or_when_waived(
    api: TestClient, people: dict[str, dict[str, str]], clock: Clock
) -> None:
    apply_policy(api, POLICY.replace(">= 0.8", '>= 0.8 && version.metrics["f1"] > 0.5'))
    high_risk_model(api, people)
    rid = promote(api, people["dana"])["id"]
    rule = next(
        r for r in api.get(f"{API}/requests/{rid}").json()["requirements"] if r["key"] == "rule:auc"
    )
    assert rule["state"] == "fail" and "f1" in rule["message"]
    waiver = {"requirement": "rule:auc", "reason": "f1 is computed nightly", "expires_in_hours": 2}
    refused = api.post(f"{API}/requests/{rid}/waivers", json=waiver, headers=people["leo"])
    assert_problem(refused, 403, "FORBIDDEN")
    bad = api.post(
        f"{API}/requests/{rid}/waivers", json={**waiver, "requirement": "approvals:risk"}
    )
    assert_problem(bad, 400, "INVALID_INPUT")
    waived = assert_json(api.post(f"{API}/requests/{rid}/waivers", json=waiver), 200)
    assert states(waived)["rule:auc"] == "waived"
    assert waived["waivers"][0]["created_by"] == "admin"
    clock.advance(hours=3)
    assert states(assert_json(api.get(f"{API}/requests/{rid}"), 200))["rule:auc"] == "fail"
    api.post(model_url(NAME, "versions", "1", "metrics"), json={"metrics": {"f1": 0.7}})
    assert states(assert_json(api.get(f"{API}/requests/{rid}"), 200))["rule:auc"] == "pass"


def test_prior_stage_soak_and_auto_apply(
    api: TestClient, people: dict[str, dict[str, str]], registry: Registry, clock: Clock
) -> None:
    apply_policy(api, STAGING)
    apply_policy(
        api,
        "name: prod\nalias: production\nprefix: credit\nprior_stage: staging\n"
        "soak_hours: 24\nauto_apply: true\n",
    )
    high_risk_model(api, people)
    staged = promote(api, people["dana"], alias="staging")
    assert_json(review(api, staged["id"], people["leo"]), 200)
    assert_json(api.post(f"{API}/requests/{staged['id']}/apply", headers=people["dana"]), 200)
    request = promote(api, people["dana"])
    assert (states(request)["stage:staging"], request["state"]) == ("pending", "open")
    clock.advance(hours=25)
    settled = registry.request_followers.sweep(Context.system("sweeper"))
    assert settled == 1
    done = assert_json(api.get(f"{API}/requests/{request['id']}"), 200)
    assert (done["state"], done["closed_by"]) == ("applied", "sweeper")
    assert api.get(model_url(NAME, "aliases", "production")).json()["version"] == 1


def test_windows_freezes_expiry_and_rollbacks(
    api: TestClient, people: dict[str, dict[str, str]], registry: Registry, clock: Clock
) -> None:
    apply_policy(
        api,
        "name: prod\nalias: production\nprefix: credit\nwindows: {deny_days: [sat, sun]}\n"
        "request_expiry_days: 3\nrollback: {approvals: [{group: ml-leads}]}\n",
    )
    high_risk_model(api, people)
    push(api, NAME, {"model.bin": b"two"})
    clock.now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday
    first = promote(api, people["dana"])
    assert states(first)["window"] == "pending"
    clock.advance(days=2)  # Monday
    assert_json(api.post(f"{API}/requests/{first['id']}/apply", headers=people["dana"]), 200)
    freeze = {"prefix": "credit", "reason": "year-end freeze"}
    assert_json(api.post(f"{API}/freezes", json=freeze), 201)
    second = promote(api, people["dana"], version=2)
    assert states(second)["freeze"] == "pending"
    clock.advance(days=4)
    registry.request_followers.sweep(Context.system("sweeper"))
    expired = assert_json(api.get(f"{API}/requests/{second['id']}"), 200)
    assert expired["state"] == "expired"
    # Rollbacks have their own requirements: one ml-leads approval.
    for frozen in api.get(f"{API}/freezes").json()["items"]:
        api.delete(f"{API}/freezes/{frozen['id']}")
    third = promote(api, people["dana"], version=2)
    assert_json(api.post(f"{API}/requests/{third['id']}/apply", headers=people["dana"]), 200)
    back = assert_json(
        api.post(model_url(NAME, "rollback"), json={"alias": "production"}, headers=people["dana"]),
        201,
    )
    assert states(back)["approvals:ml-leads"] == "pending" and "window" not in states(back)
    assert_json(review(api, back["id"], people["leo"]), 200)
    assert_json(api.post(f"{API}/requests/{back['id']}/apply", headers=people["dana"]), 200)
    assert api.get(model_url(NAME, "aliases", "production")).json()["version"] == 1


def test_a_reject_closes_the_request_and_the_inbox_follows(
    api: TestClient, people: dict[str, dict[str, str]], clock: Clock
) -> None:
    apply_policy(api, POLICY)
    high_risk_model(api, people)
    rid = promote(api, people["dana"])["id"]
    inbox = api.get(f"{API}/requests", params={"waiting_for": "me"}, headers=people["leo"]).json()
    assert [r["id"] for r in inbox["items"]] == [rid]
    mine = api.get(f"{API}/requests", params={"waiting_for": "me"}, headers=people["dana"]).json()
    assert mine["items"] == []
    rejected = assert_json(review(api, rid, people["rita"], "reject"), 200)
    assert (rejected["state"], rejected["closed_by"]) == ("rejected", "rita")
    inbox = api.get(f"{API}/requests", params={"waiting_for": "me"}, headers=people["leo"]).json()
    assert inbox["items"] == []
