"""Push and pull draw progress bars (bytes, rate, time left) on a terminal, and
nothing of the sort when output goes to a pipe."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
from pathlib import Path

from tests.e2e.conftest import MODELDEPOT, Cli, ok, unique_files, unique_name

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A finished bar: bytes done of total, rate (a figure, or "?" before Rich has two
# samples: a small transfer can end sooner), and time left.
BAR = re.compile(r"3\.0/3\.0 MiB (\?|[\d.]+ [KMG]?i?B/s) (\d+:\d\d:\d\d|-:--:--)")


def run_on_terminal(cli: Cli, *args: str) -> tuple[int, str]:
    """Run ``modeldepot ARGS`` with a pseudo-terminal as stdout and stderr."""
    leader, follower = pty.openpty()
    env = cli.env | {"TERM": "xterm", "COLUMNS": "120"}
    process = subprocess.Popen(
        [MODELDEPOT, *args], cwd=cli.cwd, env=env, stdout=follower, stderr=follower
    )
    os.close(follower)
    output = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(30), ANSI.sub("", output.decode(errors="replace"))


def test_push_and_pull_show_bytes_rate_and_time_left_on_a_terminal(
    cli: Cli, tmp_path: Path
) -> None:
    unique_files(tmp_path / "model", {"weights.bin": os.urandom(3 * 1024 * 1024)})
    name = unique_name()
    status, screen = run_on_terminal(cli, "push", "model", name)
    assert status == 0, screen
    assert "pushing" in screen, screen
    assert BAR.search(screen), screen

    status, screen = run_on_terminal(cli, "pull", name, "-o", "out")
    assert status == 0, screen
    assert "downloading" in screen and BAR.search(screen), screen


def test_piped_output_has_no_progress_bars(cli: Cli, tmp_path: Path) -> None:
    unique_files(tmp_path / "model")
    result = cli("push", "model", unique_name())
    ok(result)
    assert "uploading" not in result.stderr and "hashing" not in result.stderr


def test_a_repush_and_a_cached_pull_say_what_moved_and_what_was_already_there(
    cli: Cli, tmp_path: Path
) -> None:
    """Bytes the server (or the cache) already holds are not reported as transferred."""
    weights = os.urandom(3 * 1024 * 1024)
    unique_files(tmp_path / "model", {"weights.bin": weights, "config.json": b'{"layers": 3}'})
    name = unique_name()
    ok(cli("push", "model", name))
    (tmp_path / "model" / "config.json").write_bytes(b'{"layers": 4}')

    status, screen = run_on_terminal(cli, "push", "model", name)
    assert status == 0, screen
    # The bar and the final line: 13 bytes sent, the weights already on the server.
    assert re.search(r"sent 13 B, 3\.0 MiB already on the server\s*$", screen, re.M), screen
    assert re.search(r"\(2 files, 3\.0 MiB: sent 13 B, 3\.0 MiB already on the server\)", screen)

    ok(cli("pull", name, "-o", "first"))
    status, screen = run_on_terminal(cli, "pull", name, "-o", "second")
    assert status == 0, screen
    assert re.search(r"received 0 B, 3\.0 MiB from the cache\s*$", screen, re.M), screen
    assert "(2 files, 3.0 MiB: received 0 B, 3.0 MiB from the cache)" in screen, screen
    piped = ok(cli("pull", name, "-o", "third", "--no-cache"))
    assert "(2 files, 3.0 MiB: received 3.0 MiB)" in piped, piped


def test_a_single_file_is_one_file(cli: Cli, tmp_path: Path) -> None:
    unique_files(tmp_path / "model", {"only.bin": os.urandom(100)})
    assert "(1 file, 100 B: sent 100 B)" in ok(cli("push", "model", unique_name()))
