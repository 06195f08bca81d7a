"""A new user's first minutes: no server yet, a taken port, how fast a command answers."""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from modeldepot.client.client import Client
from tests.conftest import free_port
from tests.e2e.conftest import (
    MODELDEPOT,
    Cli,
    ServerProcess,
    make_cli,
    ok,
    server_env,
    server_token,
    unique_name,
)

pytestmark = pytest.mark.e2e

# What a read command has no use for: the HTTP library's and Rich's imports, pydantic
# (nothing to validate in what is only printed), the server's stack, numerical
# libraries, and SDK parts only transfers need.
NOT_FOR_READS = (
    "pydantic",
    "modeldepot.schemas",
    "httpx",
    "httpcore",
    "rich",
    "pygments",
    "numpy",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "modeldepot.client.push",
    "modeldepot.client.pull",
    "modeldepot.client.upload",
)


@pytest.fixture
def offline(tmp_path: Path) -> Cli:
    """The CLI pointed at a port nothing listens on."""
    return make_cli(tmp_path, f"http://127.0.0.1:{free_port()}")


def assert_start_hint(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modeldepot: error: SERVER_UNREACHABLE: ")
    assert "modeldepot serve" in lines[0] and "MODELDEPOT_URL" in lines[0], lines[0]


@pytest.mark.parametrize(
    "args",
    [("models", "list"), ("version", "show", "a/b:1"), ("pull", "a/b")],
    ids=["models-list", "version-show", "pull"],
)
def test_a_command_with_no_server_fails_fast_saying_how_to_start_one(
    offline: Cli, args: tuple[str, ...]
) -> None:
    started = time.monotonic()
    result = offline(*args)
    assert time.monotonic() - started < 5
    assert_start_hint(result)


def test_a_push_with_no_server_fails_fast_saying_how_to_start_one(
    offline: Cli, tmp_path: Path
) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"weights")
    started = time.monotonic()
    result = offline("push", tmp_path / "model", "a/b", "--no-capture")
    assert time.monotonic() - started < 5
    assert_start_hint(result)


def test_a_server_that_answered_is_waited_for_through_a_restart(
    start_local_server, tmp_path: Path
) -> None:
    """Once the server has answered, a request rides out a restart (patient retries)."""
    server: ServerProcess = start_local_server()
    with Client(server.url, cache_dir=tmp_path / "cache", token=server_token(server)) as md:
        md.create_model("a/restart")
        server.stop()
        restarted = threading.Thread(target=lambda: (time.sleep(1.0), server.start()))
        restarted.start()
        try:
            assert md.get_model("a/restart").name == "a/restart"
        finally:
            restarted.join()


def test_a_fresh_server_and_the_cli_of_the_same_user_need_no_token(tmp_path: Path) -> None:
    """The quick start, secure by default: the first start creates the admin and writes
    its token where the CLI (and SDK) of the same user, on the same machine, find it."""
    home = tmp_path / "home"
    env = {k: v for k, v in server_env().items() if not k.startswith("XDG_")} | {"HOME": str(home)}
    port = free_port()
    data_dir = home / ".local" / "share" / "modeldepot"  # the default, nothing configured
    server = ServerProcess(port, data_dir, tmp_path / "server.log", env, ["--port", str(port)])
    server.start()
    try:
        cli = Cli(cwd=tmp_path, env=env | {"MODELDEPOT_URL": server.url})
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "w.bin").write_bytes(b"weights")
        ok(cli("push", "model", "ads/first", "--no-capture"))
        assert "ads/first" in ok(cli("models", "list"))
        assert ok(cli("whoami")).startswith("admin (user)")
        token_file = data_dir / "admin.token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        log = server.log_path.read_text()
        assert "first start: created the user 'admin'" in log and token not in log
        server.restart()  # a second start creates nothing and keeps the token
        assert token_file.read_text().strip() == token
        assert ok(cli("whoami")).startswith("admin (user)")
        # Without the file (another user, another machine), the server refuses.
        stranger = cli.env | {"HOME": str(tmp_path / "stranger")}
        result = subprocess.run(
            [MODELDEPOT, "whoami"], env=stranger, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1
        assert result.stderr.startswith("modeldepot: error: UNAUTHENTICATED: "), result.stderr
    finally:
        server.close()


def test_a_read_command_imports_nothing_heavy(cli: Cli) -> None:
    """``models list``, ``versions list`` and ``models show`` stay light at start-up (see
    bench/cli.py for the time it takes)."""
    name = unique_name()
    ok(cli("models", "create", name))
    script = (
        "import sys\n"
        "from modeldepot.cli.main import main\n"
        "sys.argv = ['modeldepot', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"heavy = {NOT_FOR_READS!r}\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    for args in (["models", "list"], ["versions", "list", name], ["models", "show", name]):
        result = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=cli.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "[]", (args, result.stdout)


def test_serve_on_a_taken_port_says_so_once_and_names_the_setting(tmp_path: Path) -> None:
    env = server_env()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                MODELDEPOT,
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1, result
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("modeldepot: error: PORT_IN_USE: "), lines[0]
    assert f"127.0.0.1:{port}" in lines[0]
    assert "--port" in lines[0] and "MODELDEPOT_PORT" in lines[0]
    assert "serving on" not in result.stderr


def test_a_push_and_pull_leave_no_error_in_the_servers_log(
    start_local_server, tmp_path: Path
) -> None:
    """The ordinary path on a local store asks nothing the server must refuse: its
    default log (the access log) shows no 4xx or 5xx line."""
    server: ServerProcess = start_local_server()
    cli = make_cli(tmp_path, server)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"weights" * 1000)
    ok(cli("push", "model", "a/logged", "--no-capture"))
    ok(cli("pull", "a/logged", "-o", "out"))
    ok(cli("pull", "a/logged", "-o", "again"))
    log = server.log_path.read_text()
    assert '"POST /api/v1/blobs/urls HTTP/1.1" 200' in log, log
    refused = [line for line in log.splitlines() if re.search(r'HTTP/1\.1" [45]\d\d ', line)]
    assert refused == [], refused
    assert "ERROR" not in log, log


def test_a_versions_card_and_description_can_be_found_from_the_cli(
    cli: Cli, tmp_path: Path
) -> None:
    """What a push describes belongs to the version, and the CLI shows where it is."""
    name = unique_name()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"w")
    (tmp_path / "card.md").write_text("# Churn\n\n## Intended use\nRetention calls.\n")
    ok(cli("push", "model", name, "-d", "first try", "--card", "card.md", "--no-capture"))

    missing = cli("models", "card", "show", name)
    assert missing.returncode == 1
    assert missing.stderr.startswith("modeldepot: error: CARD_NOT_FOUND: "), missing.stderr
    assert f"modeldepot version card show {name}:1" in missing.stderr, missing.stderr

    shown = cli("version", "card", "show", f"{name}:1")
    assert ok(shown) == "# Churn\n\n## Intended use\nRetention calls.\n"
    assert "complete" in shown.stderr
    assert f"version card show {name}:1" in ok(cli("version", "show", name))
    listing = ok(cli("versions", "list", name)).splitlines()
    assert listing[0].split()[-1] == "DESCRIPTION" and listing[1].endswith("first try")

    ok(cli("push", "model", name, "--no-capture"))  # version 2: no card of its own
    none = cli("version", "card", "show", name)
    assert none.returncode == 1 and "CARD_NOT_FOUND" in none.stderr
    assert f"modeldepot models card show {name}" in none.stderr, none.stderr


def test_version_show_and_inventory_print_people_words(cli: Cli, tmp_path: Path) -> None:
    """Nested params by dotted path, tensor specs without ``?:`` or ``None``, personal
    data as yes/no with a count, file counts in the singular."""
    name = unique_name()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"w")
    (tmp_path / "params.json").write_text('{"model": {"C": 0.5, "penalty": "l2"}, "seed": 1}')
    (tmp_path / "lineage.json").write_text(
        '{"signature": {"inputs": [{"dtype": "float64", "shape": [null, 3]}],'
        ' "outputs": [{"name": "label", "dtype": "int64", "shape": [null]}]}}'
    )
    ok(
        cli(
            "push", "model", name, "--no-capture",
            "--params-file", "params.json",
            "--lineage", "lineage.json",
            "--dataset", "uri=s3://data/people,role=train,personal",
        )
    )  # fmt: skip
    shown = dict(
        line.split("  ", 1)
        for line in ok(cli("version", "show", name)).splitlines()
        if "  " in line
    )
    assert shown["params"].strip() == "model.C=0.5, model.penalty=l2, seed=1"
    assert shown["inputs"].strip() == "float64[?, 3]"
    assert shown["outputs"].strip() == "label: int64[?]"
    assert shown["size"].strip() == "1 B in 1 file"
    rows = ok(cli("inventory", "--prefix", name.split("/")[0])).splitlines()
    assert "PERSONAL DATA" in rows[0] and "yes (1 dataset)" in rows[1], rows


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (("versions", "show", "a/b"), "modeldepot version show"),
        (("version", "list"), "modeldepot versions list"),
    ],
)
def test_a_command_under_the_other_noun_is_pointed_at(
    offline: Cli, args: tuple[str, ...], meant: str
) -> None:
    result = offline(*args)
    assert result.returncode == 2
    assert f"did you mean '{meant}'?" in result.stderr, result.stderr
