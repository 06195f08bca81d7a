"""The suite cleans up after itself: a passing run leaves nothing in the temp directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_passing_run_leaves_no_files_in_the_temporary_directory(tmp_path: Path) -> None:
    """A nested pytest run (tests that write MiB-sized files into ``tmp_path`` and a
    session directory) with its own TMPDIR: once it passed, no file of it remains."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["TMPDIR"] = str(temp)
    env["MODELDEPOT_TEST_SKIP_POSTGRES"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/directio/test_appender.py",
            "tests/test_gc.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    left = [p for p in temp.rglob("*") if p.is_file()]
    assert left == [], left[:20]
