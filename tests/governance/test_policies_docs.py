"""docs/policies.md stays true: its example applies, its rules hold on a record that
meets them, and every key and record field it lists is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from modeldepot.governance.expressions import evaluate_rules
from modeldepot.governance.policies import RuleSpec
from modeldepot.governance.policyspec import REQUIREMENT_KEYS, TOP_KEYS, parse_policy
from tests.governance.test_expressions import RECORD

DOC = (Path(__file__).parent.parent.parent / "docs" / "policies.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def test_the_complete_example_applies() -> None:
    spec = parse_policy(BLOCKS[0])
    assert (spec["name"], spec["prefix"], spec["risk"]) == ("credit-production", "credit", ["high"])
    assert parse_policy(BLOCKS[1])["alias"] == "staging"


def test_every_key_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", DOC, re.M))
    for key in TOP_KEYS:
        if key == "windows":
            assert {"windows.deny_days", "windows.deny_hours"} <= documented
        else:
            assert key in documented, key
    assert all(key in DOC for key in REQUIREMENT_KEYS)


def test_the_example_rules_compile_and_hold_on_a_record_meeting_them() -> None:
    spec = parse_policy("name: doc\nalias: production\n" + BLOCKS[2])
    version = {
        **RECORD["version"],
        "metrics": {"auc": 0.83, "latency_ms": 20.0},
        "slices": {"auc": {"sex=female": 0.8, "sex=male": 0.82}},
        "metric_slices": [{"metric": "auc", "slice": "sex=female", "value": 0.8, "dataset": ""}],
        "datasets": [{"role": "test", "personal_data": True, "metrics": {"auc": 0.81}}],
        "personal_data": True,
        "code": {"present": True, "commit": "abc", "dirty": False},
        "card": {"completeness": 0.5, "sections": ["evaluation"]},
        "params": {"optimizer": {"lr": 0.01}},
        "environment": {"packages": {"scikit-learn": "1.5.0"}},
    }
    record = {"model": {"risk": "high", "owner": "risk"}, "version": version}
    rules = [RuleSpec(r["name"], r["expression"]) for r in spec["rules"]]
    failed = [o.message for o in evaluate_rules(rules, record) if not o.passed]
    assert failed == []
