"""The story of docs/governance.md, end to end over HTTP, on SQLite and PostgreSQL.

A high-risk model under ``credit/``: version 7, pushed by a data scientist, is promoted
to staging with an ML lead's approval; a day later its promotion to production shows a
failing fairness rule until the fairness metrics are added, waits for a posted
``bias-audit`` check, refuses its author's approval, collects approvals from
``ml-leads`` and ``risk`` and is applied; then it is rolled back; then its training
dataset turns out to hold unconsented personal data and the version is revoked. The
request, the alias history, the version and the audit log tell the whole story, and
the audit chain verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from modeldepot.registry import Registry
from modeldepot.security.context import Context
from tests.api.helpers import (
    API,
    as_user,
    assert_json,
    assert_problem,
    digest_of,
    entry,
    model_url,
    push,
)

NAME = "credit/scorer"
DATASET = "s3://credit/applications-2026.parquet"
STAGING = """
name: credit-staging
alias: staging
prefix: credit
approvals: [{group: ml-leads}]
"""
PRODUCTION = """
name: credit-production
alias: production
prefix: credit
risk: [high]
approvals: [{group: ml-leads}, {group: risk}]
rules:
  - name: fairness
    expression: 'version.slices["fpr"]["sex=female"] <= 0.1'
    description: false positive rate for women at most 10 %
  - name: dpia
    expression: 'version.datasets.all(d, !d.personal_data || version.tags["dpia"] == "approved")'
checks: [bias-audit]
prior_stage: staging
soak_hours: 24
rollback: {approvals: [{group: ml-leads}], rules: [], checks: [], prior_stage: null}
"""


def test_the_story(api: TestClient, registry: Registry) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    registry.units.clock = lambda: now[0]
    ctx = Context.system("tests")
    dana = as_user(api, "dana", "contributor", "credit")
    leo = as_user(api, "leo", "reader", "credit")
    rita = as_user(api, "rita", "reader", "credit")
    ci = as_user(api, "ci-bot", "contributor", "credit")
    for group, member in (("ml-leads", "leo"), ("risk", "rita")):
        registry.identity.create_group(ctx, group)
        registry.identity.add_member(ctx, group, member)

    def get(request_id: int) -> Any:
        return assert_json(api.get(f"{API}/requests/{request_id}"), 200)

    def states(request: Any) -> dict[str, str]:
        return {r["key"]: r["state"] for r in request["requirements"]}

    def apply(request_id: int) -> Any:
        return assert_json(api.post(f"{API}/requests/{request_id}/apply", headers=dana), 200)

    def approve(request_id: int, who: dict[str, str]) -> Any:
        body = {"verdict": "approve", "comment": "reviewed"}
        return api.post(f"{API}/requests/{request_id}/reviews", json=body, headers=who)

    # Versions 1-6 exist; production holds 5 (promoted before any policy).
    for i in range(1, 7):
        push(api, NAME, {"model.bin": b"v%d" % i})
    assert_json(api.patch(model_url(NAME), json={"risk_level": "high"}), 200)
    first = assert_json(
        api.post(model_url(NAME, "requests"), json={"version": 5, "alias": "production"}), 201
    )
    apply(first["id"])
    for source in (STAGING, PRODUCTION):
        assert_json(api.post(f"{API}/policies", json={"source": source}), 201)

    # 1. Dana pushes version 7, trained on applications data holding personal data.
    lineage = {"datasets": [{"uri": DATASET, "role": "train", "personal_data": True}]}
    tags = {"dpia": "approved"}
    body = {"lineage": lineage, "tags": tags, "metrics": {"auc": 0.91}}
    blob = api.put(
        f"{API}/blobs/{digest_of(b'seven')}", content=b"seven", params={"model": NAME}, headers=dana
    )
    assert blob.status_code == 201, blob.text
    files = [entry("model.bin", b"seven")]
    created = api.post(model_url(NAME, "versions"), json={"files": files, **body}, headers=dana)
    seven = assert_json(created, 201)
    assert (seven["number"], seven["created_by"]) == (7, "dana")

    # 2. Staging, approved by an ML lead.
    staged = assert_json(
        api.post(
            model_url(NAME, "requests"), json={"version": 7, "alias": "staging"}, headers=dana
        ),
        201,
    )
    assert staged["policy"] == "credit-staging@1"
    assert_json(approve(staged["id"], leo), 200)
    apply(staged["id"])

    # 3. A day later, production: a failing fairness rule, a pending check, approvals.
    now[0] += timedelta(hours=25)
    request = assert_json(
        api.post(
            model_url(NAME, "requests"),
            json={"version": 7, "alias": "production", "reason": "AUC +2 points"},
            headers=dana,
        ),
        201,
    )
    rid = request["id"]
    assert (request["policy"], request["base_version"]) == ("credit-production@1", 5)
    assert states(request) == {
        "status": "pass",
        "base": "pass",
        "freeze": "pass",
        "approvals:ml-leads": "pending",
        "approvals:risk": "pending",
        "rule:fairness": "fail",
        "rule:dpia": "pass",
        "check:bias-audit": "pending",
        "stage:staging": "pass",
    }
    assert request["diff"]["b"] == f"{NAME}:7"

    # 4. The fairness evaluation adds its metrics; CI posts the bias audit.
    slices = [{"name": "fpr", "value": 0.08, "slice": "sex=female"}]
    url = model_url(NAME, "versions", "7", "metrics")
    assert_json(api.post(url, json={"slices": slices}, headers=dana), 200)
    check = {
        "name": "bias-audit",
        "state": "pass",
        "digest": seven["digest"],
        "url": "https://ci/42",
    }
    assert_json(api.post(model_url(NAME, "versions", "7", "checks"), json=check, headers=ci), 201)
    request = get(rid)
    assert request["revision"] == 2
    assert states(request)["rule:fairness"] == states(request)["check:bias-audit"] == "pass"

    # 5. The author may not approve; the ML lead and risk do; Dana applies.
    assert_problem(approve(rid, dana), 403, "SELF_APPROVAL")
    assert_json(approve(rid, leo), 200)
    assert get(rid)["state"] == "open"
    assert_json(approve(rid, rita), 200)
    assert get(rid)["state"] == "approved"
    assert apply(rid)["state"] == "applied"

    # 6. An incident: a rollback with its faster path.
    now[0] += timedelta(hours=2)
    back = assert_json(
        api.post(
            model_url(NAME, "rollback"),
            json={"alias": "production", "reason": "latency regression"},
            headers=dana,
        ),
        201,
    )
    assert (back["version"], set(states(back))) == (
        5,
        {"status", "base", "freeze", "approvals:ml-leads"},
    )
    assert_json(approve(back["id"], leo), 200)
    apply(back["id"])

    # 7. The dataset held unconsented personal data: version 7 is revoked.
    revocation = {"dataset": DATASET, "reason": "unconsented personal data", "apply": True}
    plan = assert_json(api.post(f"{API}/datasets/-/revoke", json=revocation), 200)
    assert [v["number"] for v in plan["versions"]] == [7]
    manifest = api.get(model_url(NAME, "versions", "7", "manifest"))
    assert_problem(manifest, 409, "VERSION_REVOKED")
    allowed = api.get(
        model_url(NAME, "versions", "7", "manifest"), params={"allow_revoked": "true"}
    )
    assert allowed.status_code == 200

    # The whole story, from what the registry shows.
    shown = get(rid)
    assert (shown["state"], [r["principal"] for r in shown["reviews"]]) == (
        "applied",
        ["leo", "rita"],
    )
    history = assert_json(api.get(model_url(NAME, "aliases", "production", "history")), 200)
    assert [(h["to_version"], h["request"], h["actor"]) for h in history["items"]] == [
        (5, back["id"], "dana"),
        (7, rid, "dana"),
        (5, first["id"], "dana"),
    ]
    version = assert_json(api.get(model_url(NAME, "versions", "7")), 200)
    assert (version["status"], version["status_reason"]) == ("revoked", "unconsented personal data")
    audit = assert_json(api.get(f"{API}/audit", params={"model": NAME, "limit": 500}), 200)
    actions = [r["action"] for r in audit["items"]]
    for action in (
        "request.open",
        "request.review",
        "request.approve",
        "request.apply",
        "check.post",
        "version.metrics.add",
        "version.revoke",
        "alias.set",
    ):
        assert action in actions, action
    verification = registry.audit.verify(Context.system("tests"))
    assert verification.ok, verification
