"""Paths and local failures through the ``modeldepot`` command: every refusal and every
operating-system error is one line ``modeldepot: error: CODE: message``, never raw."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, ok_json, unique_files, unique_name
from tests.e2e.test_cli import one_line_error

pytestmark = pytest.mark.e2e


def test_push_refuses_a_link_leading_outside_unless_follow_symlinks(
    cli: Cli, tmp_path: Path
) -> None:
    name = unique_name()
    secret = tmp_path / "hostname"
    secret.write_text("host-42\n")
    unique_files(tmp_path / "model")
    (tmp_path / "model" / "hostname").symlink_to(secret)
    refused = cli("push", "model", name)
    assert "'hostname'" in one_line_error(refused, "SYMLINK_OUTSIDE")
    pushed = ok_json(cli("push", "model", name, "--follow-symlinks", "--json", "-q"))
    assert pushed["number"] == 1
    ok_json(cli("pull", f"{name}:1", "-o", "out", "--json", "-q"))
    assert (tmp_path / "out" / "hostname").read_text() == "host-42\n"


def test_push_refuses_paths_that_differ_only_by_case(cli: Cli, tmp_path: Path) -> None:
    unique_files(tmp_path / "model", {"Model.bin": b"upper", "model.bin": b"lower"})
    result = cli("push", "model", unique_name())
    assert "differ only by case" in one_line_error(result, "PATH_CONFLICT")


def test_pull_onto_a_file_is_file_exists(cli: Cli, tmp_path: Path) -> None:
    name = unique_name()
    unique_files(tmp_path / "model")
    ok_json(cli("push", "model", name, "--json", "-q"))
    (tmp_path / "taken").write_text("a file, not a directory")
    one_line_error(cli("pull", name, "-o", "taken", "-q"), "FILE_EXISTS")


def test_pull_where_a_file_stands_in_for_a_directory_is_not_a_directory(
    cli: Cli, tmp_path: Path
) -> None:
    name = unique_name()
    unique_files(tmp_path / "model", {"sub/x.bin": b"x", "a.bin": b"a"})
    ok_json(cli("push", "model", name, "--json", "-q"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").write_text("in the way")
    one_line_error(cli("pull", name, "-o", "out", "-q"), "NOT_A_DIRECTORY")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sub"]
