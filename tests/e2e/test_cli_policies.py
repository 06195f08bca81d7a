"""``modeldepot policy …`` and ``modeldepot freeze …``, run as an admin runs them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, ok, ok_json

pytestmark = pytest.mark.e2e


def policy_file(tmp_path: Path, name: str, prefix: str, soak: int, rule: str) -> Path:
    path = tmp_path / f"{name}-{soak}.yaml"
    path.write_text(
        f"name: {name}\n"
        "alias: production\n"
        f"prefix: {prefix}/\n"
        "risk: [high]\n"
        "approvals: [{group: ml-leads, count: 1}]\n"
        "rules:\n"
        f"  - {{name: auc, expression: '{rule}'}}\n"
        f"soak_hours: {soak}\n"
        "windows: {deny_days: [sat, sun]}\n"
    )
    return path


def test_policies_are_applied_listed_shown_diffed_and_removed(cli: Cli, tmp_path: Path) -> None:
    token = uuid.uuid4().hex[:8]
    name, prefix = f"e2e-{token}", f"e2e-{token}"
    first = policy_file(tmp_path, name, prefix, 24, 'version.metrics["auc"] >= 0.8')
    assert ok(cli("policy", "apply", first)).strip() == (
        f"{name}@1 in force (production of {prefix}/)"
    )
    # The same file again changes nothing.
    assert ok(cli("policy", "apply", first)).strip() == (
        f"{name}@1 unchanged (production of {prefix}/)"
    )
    assert ok_json(cli("policy", "apply", first, "--json"))["version"] == 1
    second = policy_file(tmp_path, name, prefix, 48, 'version.metrics["auc"] >= 0.8')
    assert ok_json(cli("policy", "apply", second, "--json"))["version"] == 2

    listed = ok(cli("policy", "list"))
    assert name in listed and f"{prefix}/" in listed
    assert name in [p["name"] for p in ok_json(cli("policy", "list", "--json"))]
    shown = ok(cli("policy", "show", name))
    assert f"{name}@2" in shown and "soak_hours: 48" in shown
    assert "soak_hours: 24" in ok(cli("policy", "show", name, "--version", "1"))
    history = ok_json(cli("policy", "history", name, "--json"))
    assert [v["version"] for v in history] == [1, 2]
    diff = ok(cli("policy", "diff", name, "1", "2"))
    assert "-soak_hours: 24" in diff and "+soak_hours: 48" in diff

    assert ok(cli("policy", "remove", name)).strip() == f"removed {name} (version 3)"
    gone = cli("policy", "show", name)
    assert gone.returncode == 1
    assert gone.stderr.startswith("modeldepot: error: POLICY_NOT_FOUND: ")


def test_a_bad_policy_is_refused_naming_where(cli: Cli, tmp_path: Path) -> None:
    name = f"e2e-bad-{uuid.uuid4().hex[:8]}"
    bad = policy_file(tmp_path, name, "e2e", 1, 'version.metrics["auc"] >=* 0.8')
    result = cli("policy", "apply", bad)
    assert result.returncode == 1
    assert result.stderr.startswith("modeldepot: error: POLICY_INVALID: rules[0].expression: ")
    assert "line 1, column 26" in result.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(f"name: {name}\nalias: production\nsoak: 3\n")
    result = cli("policy", "apply", unknown)
    assert result.returncode == 1 and "unknown key 'soak'" in result.stderr


def test_freezes_are_declared_listed_and_lifted(cli: Cli) -> None:
    prefix = f"e2e-frozen-{uuid.uuid4().hex[:8]}"
    created = ok_json(
        cli(
            "freeze", "create", prefix, "--reason", "quarter end", "--until", "2999-01-01", "--json"
        )
    )
    assert (created["prefix"], created["active"]) == (prefix, True)
    assert created["ends_at"].startswith("2999-01-01T00:00:00")
    listed = ok(cli("freeze", "list"))
    assert f"{prefix}/" in listed and "quarter end" in listed
    assert ok(cli("freeze", "lift", str(created["id"]))).strip() == (
        f"freeze {created['id']} on {prefix}/ lifted"
    )
    assert prefix not in ok(cli("freeze", "list"))
    assert prefix in ok(cli("freeze", "list", "--all"))
    again = cli("freeze", "lift", str(created["id"]))
    assert again.returncode == 1
    assert again.stderr.startswith("modeldepot: error: FREEZE_NOT_FOUND: ")
