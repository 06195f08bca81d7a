"""What evaluating a policy rule costs: ``evaluate_rule`` on a realistic record.

    python -m bench.policy_eval [--rounds 20000]

Ten rules of the kinds docs/policies.md shows (metric thresholds, fairness per slice,
personal data and a DPIA tag, a clean git tree, the card, params, the environment)
over the record of a version with 12 metrics, 3 datasets, 24 slices, 40 params and
300 installed packages. Prints JSON: microseconds per rule on a record converted once
(``prepare_record``; best of five rounds, compiled programs cached as in the server),
the cost of that conversion, of all ten through ``evaluate_rules`` (one conversion),
of one rule on a plain dict (a conversion per rule), and the first compile of each
rule. No server, no database.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from modeldepot.governance.expressions import (
    compile_rule,
    evaluate_rule,
    evaluate_rules,
    prepare_record,
)
from modeldepot.governance.policies import RuleSpec

RULES = [
    RuleSpec("auc", 'version.metrics["auc"] >= 0.8'),
    RuleSpec("auc-and-latency", "version.metrics.auc >= 0.8 && version.metrics.latency_ms < 50.0"),
    RuleSpec("fair", 'version.slices["auc"].all(s, version.slices["auc"][s] >= 0.75)'),
    RuleSpec(
        "fair-gap",
        "version.slices.auc.all(s, version.metrics.auc - version.slices.auc[s] <= 0.05)",
    ),
    RuleSpec("dpia", '!version.personal_data || version.tags["dpia"] == "approved"'),
    RuleSpec(
        "dpia-per-dataset",
        "!version.datasets.exists(d, d.personal_data) || "
        '("dpia" in version.tags && version.tags.dpia == "approved")',
    ),
    RuleSpec("clean-code", 'version.code.commit != "" && !version.code.dirty'),
    RuleSpec("card", 'version.card.completeness >= 0.5 && "evaluation" in version.card.sections'),
    RuleSpec("holdout", 'version.datasets.exists(d, d.role == "test" && d.metrics.auc >= 0.8)'),
    RuleSpec("risk-owner", 'model.risk != "high" || model.owner != ""'),
]


def record() -> dict[str, Any]:
    groups = ["sex=female", "sex=male", "age<25", "age25-60", "age>60", "region=eu"]
    slices = {m: {g: 0.8 + i / 100 for i, g in enumerate(groups)} for m in ("auc", "f1")}
    slices["precision"] = {g: 0.7 for g in groups}
    slices["recall"] = {g: 0.75 for g in groups}
    metrics = {f"m{i}": i / 10 for i in range(9)} | {"auc": 0.83, "latency_ms": 12.5, "f1": 0.8}
    datasets = [
        {
            "name": name,
            "uri": f"s3://data/{name}",
            "digest": "sha256:" + "a" * 64,
            "role": role,
            "size": 10_000_000,
            "personal_data": name == "loans",
            "metrics": {"auc": 0.83} if role == "test" else {},
            "slices": slices if role == "test" else {},
        }
        for name, role in (("loans", "train"), ("valid", "validation"), ("holdout", "test"))
    ]
    return {
        "model": {
            "name": "credit/scorer",
            "description": "Scores loan applications.",
            "owner": "risk-team",
            "risk": "high",
            "tags": {"team": "risk", "tier": "1"},
            "card": {"present": True, "completeness": 0.83, "sections": [], "missing": []},
        },
        "version": {
            "number": 42,
            "digest": "sha256:" + "b" * 64,
            "format": "sklearn",
            "status": "active",
            "created_by": "ci-bot",
            "created_at": "2026-12-06T09:00:00+00:00",
            "tags": {"dpia": "approved", "run": "r-1234"},
            "params": {f"p{i}": i for i in range(38)} | {"optimizer": {"lr": 0.01, "name": "adam"}},
            "metrics": metrics,
            "slices": slices,
            "metric_slices": [
                {"metric": m, "slice": g, "value": v, "dataset": "s3://data/holdout"}
                for m, by in slices.items()
                for g, v in by.items()
            ],
            "aliases": ["staging"],
            "card": {
                "present": True,
                "completeness": 0.83,
                "sections": ["intended_use", "training_data", "evaluation", "limitations"],
                "missing": ["out_of_scope_use", "ethical_considerations"],
                "metadata": {"license": "proprietary"},
            },
            "code": {
                "present": True,
                "repository": "git@example.com:risk/scorer.git",
                "commit": "0123456789abcdef0123456789abcdef01234567",
                "branch": "main",
                "entry_point": "train.py",
                "dirty": False,
            },
            "environment": {
                "python": "3.11.7",
                "implementation": "CPython",
                "platform": "Linux-x86_64",
                "accelerator": "",
                "container_image": "",
                "packages": {f"package-{i}": "1.0.0" for i in range(300)},
            },
            "datasets": datasets,
            "personal_data": True,
            "derived_from": ["credit/features:7"],
            "depends_on": [],
        },
    }


def best_of_five(job: Any, rounds: int) -> float:
    """Microseconds per call of ``job``, the best of five rounds of ``rounds`` calls."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            job()
        best = min(best, time.perf_counter() - start)
    return best / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args()
    data = record()
    compiles = {}
    for rule in RULES:
        start = time.perf_counter()
        compile_rule(rule.expression)
        compiles[rule.name] = round((time.perf_counter() - start) * 1e6, 1)
        outcome = evaluate_rule(rule, data)
        assert outcome.passed, (rule.name, outcome.message)
    prepared = prepare_record(data)
    rules = {
        rule.name: round(best_of_five(lambda r=rule: evaluate_rule(r, prepared), args.rounds), 1)
        for rule in RULES
    }
    few = max(1, args.rounds // 50)
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "us_per_rule_on_a_prepared_record": rules,
                "us_per_rule_mean": round(sum(rules.values()) / len(rules), 1),
                "us_to_prepare_the_record": round(
                    best_of_five(lambda: prepare_record(data), few), 1
                ),
                "us_for_all_ten_with_evaluate_rules": round(
                    best_of_five(lambda: evaluate_rules(RULES, data), few), 1
                ),
                "us_per_rule_on_a_plain_dict": round(
                    best_of_five(lambda: evaluate_rule(RULES[0], data), few), 1
                ),
                "us_first_compile": compiles,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
