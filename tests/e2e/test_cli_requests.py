"""``modeldepot promote``, ``rollback``, ``requests …``, ``check …`` and ``metrics add``,
run as a user runs them against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, ok, ok_json, unique_files, unique_name

pytestmark = pytest.mark.e2e


def pushed(cli: Cli, tmp_path: Path, name: str, versions: int) -> None:
    for i in range(versions):
        unique_files(tmp_path / f"v{i}")
        ok(cli("push", tmp_path / f"v{i}", name, "--metric", f"auc=0.{i + 7}"))


def test_production_moves_only_through_a_request(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("gov")
    pushed(cli, tmp_path, name, 2)
    refused = cli("alias", "set", name, "production", "1")
    assert refused.returncode != 0
    assert refused.stderr.startswith("modeldepot: error: ALIAS_PROTECTED: ")
    opened = ok_json(
        cli("promote", f"{name}:1", "--to", "production", "--reason", "first", "--json")
    )
    assert (opened["state"], opened["reason"]) == ("approved", "first")
    shown = ok(cli("requests", "show", str(opened["id"])))
    assert "Ready: `modeldepot requests apply" in shown and "status" in shown
    assert f"{name}@production" in ok(cli("requests", "list"))
    assert "-> 1 (applied)" in ok(cli("requests", "apply", str(opened["id"])))
    second = ok_json(cli("promote", f"{name}:2", "--to", "production", "--json"))
    shown = ok(cli("requests", "show", str(second["id"])))
    assert f"Changes {name}:1 -> {name}:2" in shown and "auc" in shown
    ok(cli("requests", "apply", str(second["id"])))
    back = ok(cli("rollback", f"{name}@production", "--reason", "regression"))
    assert "2 -> 1 (approved)" in back
    request_id = back.split("#", 1)[1].split(":", 1)[0]
    ok(cli("requests", "comment", request_id, "rolling back after the alert"))
    ok(cli("requests", "apply", request_id))
    history = ok(cli("alias", "history", f"{name}@production"))
    assert [line.split()[3:5] for line in history.splitlines()[1:]] == [
        ["2", "1"],
        ["1", "2"],
        ["-", "1"],
    ]
    closed = ok(cli("requests", "list", "--state", "applied", "--model", name))
    assert len(closed.splitlines()) == 4


def test_a_cancelled_request_cannot_be_applied(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("gov")
    pushed(cli, tmp_path, name, 1)
    opened = ok_json(cli("promote", f"{name}:1", "--to", "staging", "--json"))
    ok(cli("requests", "cancel", str(opened["id"]), "--reason", "wrong one"))
    late = cli("requests", "apply", str(opened["id"]))
    assert late.returncode != 0
    assert late.stderr.startswith("modeldepot: error: REQUEST_CLOSED: ")
    missing = cli("requests", "show", "999999")
    assert missing.stderr.startswith("modeldepot: error: REQUEST_NOT_FOUND: ")


def test_checks_and_metrics_from_the_cli(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("gov")
    pushed(cli, tmp_path, name, 1)
    posted = ok(cli("check", "post", f"{name}:1", "bias-audit", "pass", "--url", "https://ci/7"))
    assert posted.strip() == f"{name}:1 bias-audit: pass"
    assert "https://ci/7" in ok(cli("check", "list", f"{name}:1"))
    wrong = cli("check", "post", f"{name}:1", "x", "pass", "--digest", "sha256:" + "0" * 64)
    assert wrong.stderr.startswith("modeldepot: error: CHECK_DIGEST_MISMATCH: ")
    ok(cli("metrics", "add", f"{name}:1", "fpr=0.12", "--slice", "sex=female"))
    ok(cli("metrics", "add", f"{name}:1", "f1=0.8"))
    again = cli("metrics", "add", f"{name}:1", "f1=0.9")
    assert again.stderr.startswith("modeldepot: error: METRIC_EXISTS: ")
    bad = cli("metrics", "add", f"{name}:1", "f1=high")
    assert bad.returncode == 2
