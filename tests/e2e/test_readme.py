"""The README's walkthrough, run word for word against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import server_env

README = (Path(__file__).parents[2] / "README.md").read_text()


def walkthrough_blocks() -> tuple[str, str]:
    """The shell block and the Python block of the README's walkthrough section."""
    section = README.split("## A five-minute walkthrough", 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"```\n(.*?)\n```", section, re.S)
    python = re.search(r"```python\n(.*?)\n```", section, re.S)
    assert shell and python, "the walkthrough lost its code blocks"
    return shell.group(1), python.group(1)


def test_readme_walkthrough_runs_as_written(start_local_server, tmp_path: Path) -> None:
    server = start_local_server()
    shell, python = walkthrough_blocks()
    demo = tmp_path / "demo"
    env = server_env() | {
        "MODELDEPOT_URL": server.url,
        "MODELDEPOT_CACHE_DIR": str(tmp_path / "cache"),
        # The same machine and user as the server: the CLI finds its admin token there.
        "MODELDEPOT_DATA_DIR": str(server.data_dir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    script = shell.replace("/tmp/demo", str(demo))
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert sorted(p.name for p in (demo / "deploy").iterdir()) == ["config.json", "weights.bin"]
    assert '"number": 1' in ran.stdout  # production was rolled back to version 1

    sdk = subprocess.run(
        [sys.executable, "-c", python],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sdk.returncode == 0, sdk.stdout + sdk.stderr
    assert sdk.stdout.splitlines() == ["3", "[3]"]


def test_readme_scikit_learn_walkthrough_runs_as_written(start_local_server, tmp_path: Path):
    server = start_local_server()
    section = README.split("## Publishing a scikit-learn model with its data", 1)[1]
    python = re.search(r"```python\n(.*?)\n```", section.split("\n## ", 1)[0], re.S)
    assert python, "the scikit-learn walkthrough lost its code block"
    env = server_env() | {
        "MODELDEPOT_URL": server.url,
        "MODELDEPOT_CACHE_DIR": str(tmp_path / "cache"),
        "MODELDEPOT_DATA_DIR": str(server.data_dir),
    }
    ran = subprocess.run(
        [sys.executable, "-c", python.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("name='skops' framework='scikit-learn'")
    assert "risk/churn" in lines[1]
    assert "alias='champion'" in lines[2]
    assert lines[-1] == "True"
