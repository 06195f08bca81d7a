"""Docs that cannot rot: the README must name every setting, command and error code,
and CI must run the README's own test command."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
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


def test_code_is_ruff_formatted() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--quiet", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _requirement_names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in requirements
    }


def _pins(lock: Path) -> dict[str, str]:
    """Package → pinned version, for every `name==version \\` entry of a lock."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", lock.read_text(), re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements/server.txt", []), ("requirements/test.txt", ["test"])]
)
def test_every_dependency_is_pinned_and_hashed_in_its_lock(lock: str, extras: list[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    pins = _pins(ROOT / lock)
    assert _requirement_names(wanted) - set(pins) == set(), f"rerun requirements/lock: {lock}"
    entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
    unhashed = [e.split()[0] for e in entries if "==" in e.split()[0] and "--hash=" not in e]
    assert unhashed == []


def test_the_quick_start_and_the_image_install_from_the_locks() -> None:
    blocks = re.findall(r"```\n(.*?)\n```", README.split("## Quick start", 1)[1], re.S)
    assert blocks[0].startswith("pip install -r requirements/server.txt && ")
    assert blocks[1].startswith("pip install -r requirements/test.txt && ")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r /wheels/server.txt" in dockerfile
    assert "--no-deps" in dockerfile
