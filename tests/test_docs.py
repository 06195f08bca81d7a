"""Docs that cannot rot: the README must name every setting, command and error code,
and CI must run the README's own test command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from modeldepot.cli.main import COMMANDS, cli
from modeldepot.config import setting_docs
from modeldepot.errors import all_error_classes

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("variable", [env for env, _, _ in setting_docs()])
def test_every_setting_is_documented(variable: str) -> None:
    assert f"| `{variable}` |" in README


@pytest.mark.parametrize("code", sorted({cls.code for cls in all_error_classes()}))
def test_every_error_code_is_documented(code: str) -> None:
    assert f"| `{code}` |" in README


def _command_paths() -> list[str]:
    paths = []
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            paths.extend(f"{name} {sub}" for sub in command.commands)
        else:
            paths.append(name)
    return paths


@pytest.mark.parametrize("command", _command_paths())
def test_every_cli_command_is_documented(command: str) -> None:
    name, _, verb = command.partition(" ")
    documented = re.search(rf"modeldepot {re.escape(name)}( [^`|]*)?\b{re.escape(verb)}\b", README)
    assert documented, f"README's command table lacks `modeldepot {command}`"


def test_ci_runs_the_readme_test_command() -> None:
    blocks = re.findall(r"```\n(.*?)\n```", README.split("## Quick start", 1)[1], re.S)
    serve_command, test_command = blocks[0].strip(), blocks[1].strip()
    assert "modeldepot serve" in serve_command
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_code_is_ruff_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", "src", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
