"""Policy sources for the governance tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import API

FULL = """\
name: credit-production
description: What a credit model needs before production.
alias: production
prefix: credit/
risk: [high]
approvals: [{group: ml-leads, count: 1}, {group: risk}]
approval_expiry_days: 30
rules:
  - {name: auc, expression: 'version.metrics["auc"] >= 0.8', description: AUC at least 0.8}
  - name: fair
    expression: 'version.slices["auc"].all(s, version.slices["auc"][s] >= 0.75)'
checks: [bias-audit]
prior_stage: staging
soak_hours: 24
windows: {deny_days: [sat, sun], deny_hours: [18, 8]}
auto_apply: false
waiver_role: admin
request_expiry_days: 14
rollback: {approvals: [{group: ml-leads}], soak_hours: 0, prior_stage: null, rules: [], checks: []}
"""


def source(name: str, alias: str = "production", prefix: str = "", **extra: Any) -> str:
    """A small policy: ``extra`` keys are added as YAML flow values (JSON is YAML)."""
    import json

    lines = [f"name: {name}", f"alias: {alias}", f"prefix: '{prefix}'"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def apply(api: TestClient, text: str, headers: dict[str, str] | None = None) -> Any:
    return api.post(f"{API}/policies", json={"source": text}, headers=headers or {})
