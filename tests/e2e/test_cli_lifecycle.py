"""A version's lifecycle through the ``modeldepot`` command against a real server:
deprecate, revoke and reinstate; ``pull`` refused on a revoked version until
``--allow-revoked``, warning on a deprecated one; the banners of ``version show`` and
``alias list``; ``dataset revoke`` as a dry run, then with ``--yes``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, ok, ok_json, tree, unique_files, unique_name
from tests.e2e.test_cli import one_line_error

pytestmark = pytest.mark.e2e


def test_pull_is_refused_on_a_revoked_version_until_allowed(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("life")
    first = unique_files(tmp_path / "v1")
    unique_files(tmp_path / "v2")
    ok(cli("push", "-q", "--no-capture", "v1", name))
    ok(cli("push", "-q", "--no-capture", "v2", name))
    ok(cli("alias", "set", name, "champion", "1"))

    out = ok(
        cli("version", "deprecate", f"{name}:1", "--reason", "worse AUC", "--replacement", "2")
    )
    assert out.strip() == f"deprecated {name}:1 (use {name}:2)"
    pulled = cli("pull", "-q", f"{name}:1", "-o", "deprecated")
    ok(pulled)
    assert pulled.stderr.strip() == (
        f"modeldepot: warning: {name}:1 is deprecated (worse AUC); use {name}:2 instead"
    )

    revoked = ok_json(cli("version", "revoke", f"{name}@champion", "--reason", "leak", "--json"))
    assert (revoked["number"], revoked["status"]) == (1, "revoked")
    refused = cli("pull", "-q", f"{name}@champion", "-o", "refused")
    line = one_line_error(refused, "VERSION_REVOKED")
    assert "(leak)" in line and "--allow-revoked" in line
    assert not (tmp_path / "refused").exists()

    allowed = cli("pull", "-q", f"{name}@champion", "-o", "allowed", "--allow-revoked")
    ok(allowed)
    assert "is revoked (leak)" in allowed.stderr
    assert tree(tmp_path / "allowed") == first

    shown = ok(cli("version", "show", f"{name}@champion"))
    assert shown.splitlines()[0] == f"*** REVOKED: {name}:1 (leak); use {name}:2 instead ***"
    aliases = cli("alias", "list", name)
    assert "REVOKED" in ok(aliases)
    assert f"{name}@champion points at revoked version 1" in aliases.stderr
    assert "1 (REVOKED)" in ok(cli("versions", "list", name))
    assert "champion=1 (REVOKED)" in ok(cli("models", "show", name))
    # Listing files is no pull: allowed on a revoked version.
    assert "weights.bin" in ok(cli("version", "files", f"{name}:1"))

    ok(cli("version", "reinstate", f"{name}:1", "--reason", "false alarm"))
    pulled = cli("pull", "-q", f"{name}:1", "-o", "again")
    assert ok(pulled) and pulled.stderr == ""


def test_bad_status_changes_fail_with_one_line(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("life")
    unique_files(tmp_path / "v1")
    ok(cli("push", "-q", "--no-capture", "v1", name))
    one_line_error(cli("version", "revoke", f"{name}:1", "--reason", " "), "INVALID_INPUT")
    one_line_error(
        cli("version", "deprecate", f"{name}:1", "--reason", "x", "--replacement", "1"),
        "INVALID_INPUT",
    )
    one_line_error(cli("version", "revoke", f"{name}:7", "--reason", "x"), "VERSION_NOT_FOUND")


def test_dataset_revoke_prints_the_plan_then_carries_it_out(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("life")
    uri = f"s3://{name.split('/')[0]}/clicks"
    unique_files(tmp_path / "v1")
    unique_files(tmp_path / "v2")
    ok(cli("push", "-q", "--no-capture", "v1", name))
    ok(cli("push", "-q", "--no-capture", "v2", name, "--dataset", f"uri={uri},role=train"))

    dry = ok(cli("dataset", "revoke", uri, "--reason", "leaked rows"))
    assert f"{name}:2" in dry and f"{name}:1" not in dry
    assert "dry run: would revoke 1 version(s)" in dry
    shown = ok_json(cli("version", "show", f"{name}:2", "--json"))
    assert shown["status"] == "active"

    done = ok_json(cli("dataset", "revoke", uri, "--reason", "leaked rows", "--yes", "--json"))
    assert done["applied"] is True
    assert [(v["model"], v["number"]) for v in done["versions"]] == [(name, 2)]
    shown = ok_json(cli("version", "show", f"{name}:2", "--json"))
    assert (shown["status"], shown["status_reason"]) == ("revoked", "leaked rows")
    one_line_error(cli("pull", "-q", f"{name}:2", "-o", "out"), "VERSION_REVOKED")
    one_line_error(cli("dataset", "revoke", f"{uri}-unknown", "--reason", "x"), "DATASET_NOT_FOUND")
