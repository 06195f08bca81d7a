"""The record rules see: what a version recorded, in the shape docs/policies.md shows."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from modeldepot.db.tables import models, versions
from modeldepot.governance.expressions import evaluate_rule
from modeldepot.governance.policies import RuleSpec
from modeldepot.governance.record import version_record
from tests.api.helpers import API, push

CARD = "# Scorer\n## Intended use\nScoring credit.\n## Evaluation\nAUC on holdout.\n"


def record_of(api: TestClient, name: str, number: int) -> dict[str, Any]:
    registry = api.app.state.registry  # type: ignore[attr-defined]
    with registry.db.read() as conn:
        model_id, version_id = conn.execute(
            select(models.c.id, versions.c.id)
            .join(versions, versions.c.model_id == models.c.id)
            .where(models.c.name == name, versions.c.number == number)
        ).one()
        return version_record(conn, model_id, version_id)


def push_scorer(api: TestClient, name: str, **overrides: Any) -> int:
    lineage = {
        "code": {"repository": "git@example.com:credit.git", "commit": "ab12cd", "dirty": False},
        "environment": {"python": "3.11.7", "packages": {"scikit-learn": "1.5.0"}},
        "datasets": [
            {"uri": "s3://data/loans", "name": "loans", "role": "train", "personal_data": True},
            {"uri": "s3://data/holdout", "digest": "sha256:" + "d" * 64, "role": "test"},
        ],
        "metric_slices": [
            {"name": "auc", "slice": "sex=female", "value": 0.81, "dataset": "s3://data/holdout"},
            {"name": "auc", "slice": "sex=male", "value": 0.84, "dataset": "s3://data/holdout"},
            {"name": "auc", "value": 0.83, "dataset": "s3://data/holdout"},
        ],
        **overrides.pop("lineage", {}),
    }
    fields = {
        "metrics": {"auc": 0.83, "accuracy": 0.9},
        "params": {"optimizer": {"lr": 0.01}, "depth": 6},
        "tags": {"dpia": "approved"},
        "card": CARD,
        "lineage": lineage,
        **overrides,
    }
    return int(push(api, name, **fields)["number"])


def test_the_record_holds_what_the_version_recorded(api: TestClient) -> None:
    api.post(f"{API}/models", json={"name": "credit/scorer", "risk_level": "high", "owner": "risk"})
    number = push_scorer(api, "credit/scorer")
    record = record_of(api, "credit/scorer", number)
    model, version = record["model"], record["version"]
    assert (model["name"], model["risk"], model["owner"]) == ("credit/scorer", "high", "risk")
    assert model["card"]["present"] is False
    assert (version["number"], version["status"], version["format"]) == (1, "active", "")
    assert version["digest"].startswith("sha256:")
    assert version["created_by"] == "admin"
    assert version["tags"] == {"dpia": "approved"}
    assert version["params"] == {"optimizer": {"lr": 0.01}, "depth": 6}
    assert version["metrics"] == {"auc": 0.83, "accuracy": 0.9}
    assert version["slices"] == {"auc": {"sex=female": 0.81, "sex=male": 0.84}}
    assert {
        "metric": "auc",
        "slice": "sex=male",
        "value": 0.84,
        "dataset": "s3://data/holdout",
    } in (version["metric_slices"])
    assert version["code"] == {
        "present": True,
        "repository": "git@example.com:credit.git",
        "commit": "ab12cd",
        "branch": "",
        "entry_point": "",
        "dirty": False,
    }
    assert version["environment"]["python"] == "3.11.7"
    assert version["environment"]["packages"] == {"scikit-learn": "1.5.0"}
    loans, holdout = sorted(version["datasets"], key=lambda d: d["role"], reverse=True)
    assert (loans["name"], loans["role"], loans["personal_data"]) == ("loans", "train", True)
    assert (holdout["digest"], holdout["metrics"]) == ("sha256:" + "d" * 64, {"auc": 0.83})
    assert holdout["slices"] == {"auc": {"sex=female": 0.81, "sex=male": 0.84}}
    assert version["personal_data"] is True
    card = version["card"]
    assert (card["present"], card["completeness"]) == (True, 0.33)
    assert card["sections"] == ["intended_use", "evaluation"]
    assert (version["aliases"], version["derived_from"], version["depends_on"]) == ([], [], [])


def test_a_bare_version_has_every_field_empty(api: TestClient) -> None:
    number = int(push(api, "bare")["number"])
    version = record_of(api, "bare", number)["version"]
    assert version["code"]["present"] is False and version["code"]["commit"] == ""
    assert (version["datasets"], version["metrics"], version["slices"]) == ([], {}, {})
    assert version["personal_data"] is False
    assert version["card"]["present"] is False and version["card"]["completeness"] == 0.0


RULES = {
    "fair": 'version.slices["auc"].all(s, version.slices["auc"][s] >= 0.8)',
    "dpia": '!version.personal_data || version.tags["dpia"] == "approved"',
    "dpia_per_dataset": (
        "!version.datasets.exists(d, d.personal_data) || "
        '("dpia" in version.tags && version.tags.dpia == "approved")'
    ),
    "clean": 'version.code.present && version.code.commit != "" && !version.code.dirty',
    "card": 'version.card.completeness >= 0.3 && "evaluation" in version.card.sections',
    "holdout": 'version.datasets.exists(d, d.role == "test" && d.metrics["auc"] >= 0.8)',
    "params": "version.params.optimizer.lr <= 0.1",
    "sklearn": '"scikit-learn" in version.environment.packages',
}


def outcomes(record: dict[str, Any]) -> dict[str, bool]:
    return {name: evaluate_rule(RuleSpec(name, e), record).passed for name, e in RULES.items()}


def test_governance_rules_pass_on_a_compliant_version(api: TestClient) -> None:
    number = push_scorer(api, "credit/good")
    assert outcomes(record_of(api, "credit/good", number)) == dict.fromkeys(RULES, True)


def test_governance_rules_fail_on_what_breaks_them(api: TestClient) -> None:
    lineage = {
        "code": {"commit": "ab12cd", "dirty": True},
        "metric_slices": [{"name": "auc", "slice": "age<25", "value": 0.7}],
    }
    number = push_scorer(api, "credit/bad", tags={}, lineage=lineage)
    failed = {name for name, ok in outcomes(record_of(api, "credit/bad", number)).items() if not ok}
    assert failed == {"fair", "dpia", "dpia_per_dataset", "clean", "holdout"}
