"""``modeldepot audit list|export|verify`` and ``watch``, run as a user runs them."""

from __future__ import annotations

import json
import queue
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from modeldepot.audit.signing import load_or_create, load_public
from modeldepot.config import ServerSettings
from modeldepot.registry import Registry
from tests.e2e.conftest import (
    MODELDEPOT,
    Cli,
    ServerProcess,
    make_cli,
    new_server,
    ok,
    ok_json,
    unique_files,
    unique_name,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server on SQLite in its data directory, signing the chain's head every second."""
    server = new_server(tmp_path / "server", None)
    server.env["MODELDEPOT_AUDIT_CHECKPOINT_SECONDS"] = "1"
    # The first admin and its token, as a first start makes them.
    registry = Registry.from_settings(ServerSettings(data_dir=server.data_dir), migrate=True)
    try:
        registry.identity.bootstrap(server.data_dir)
    finally:
        registry.close()
    try:
        yield server.start()
    finally:
        server.close()


def admin_cli(tmp_path: Path, server: ServerProcess) -> Cli:
    cli = make_cli(tmp_path, server.url)
    cli.env["MODELDEPOT_TOKEN"] = (server.data_dir / "admin.token").read_text().strip()
    return cli


def test_list_export_and_verify_a_servers_audit_log(tmp_path: Path, server: ServerProcess) -> None:
    key = server.data_dir / "audit-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cli = admin_cli(tmp_path, server)
    name = unique_name("ads")
    unique_files(tmp_path / "m")
    ok(cli("push", tmp_path / "m", name))
    ok(cli("push", tmp_path / "m", name, "--tag", "run=2"))
    ok(cli("alias", "set", name, "champion", "1"))
    ok(cli("alias", "set", name, "champion", "2"))

    listed = ok_json(cli("audit", "list", "--action", "alias.*", "--json"))
    assert [(r["action"], r["after"]["version"]) for r in listed] == [
        ("alias.set", 2),
        ("alias.set", 1),
    ]
    table = ok(cli("audit", "list", "--model", name)).splitlines()
    assert table[0].split() == ["SEQ", "WHEN", "WHO", "ACTION", "TARGET"]
    assert table[1].split()[-2:] == ["alias.set", f"{name}@champion"]

    exported = [json.loads(line) for line in ok(cli("audit", "export")).splitlines()]
    assert [r["seq"] for r in exported] == list(range(1, len(exported) + 1))
    namespace = name.split("/")[0]
    result = cli("audit", "export", "--prefix", namespace, "-o", tmp_path / "audit.jsonl")
    assert result.returncode == 0, result.stderr
    in_file = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert in_file == [r for r in exported if r["model"] == name]

    time.sleep(1.5)  # the server signs its head every second
    verified = ok(cli("audit", "verify", "--data-dir", server.data_dir))
    assert verified.startswith(f"audit log OK: {len(exported)} records")
    report = ok_json(cli("audit", "verify", "--data-dir", server.data_dir, "--json"))
    assert report["ok"] and report["last_checkpoint"] == len(exported)

    # An auditor holding only the public key verifies the same; another key does not.
    public = tmp_path / "audit.pub"
    public.write_text(load_public(key).pem())
    by_public = ok(cli("audit", "verify", "--data-dir", server.data_dir, "--public-key", public))
    assert by_public.startswith(f"audit log OK: {len(exported)} records")
    other = tmp_path / "other.key"
    load_or_create(other)
    unknown = cli("audit", "verify", "--data-dir", server.data_dir, "--public-key", other)
    assert unknown.returncode == 1
    assert "which is not among the keys given" in unknown.stderr

    with sqlite3.connect(server.data_dir / "modeldepot.db") as db:
        db.execute("UPDATE audit_log SET principal = 'mallory' WHERE seq = 2")
    broken = cli("audit", "verify", "--data-dir", server.data_dir)
    assert broken.returncode == 1
    assert broken.stderr.startswith("modeldepot: error: AUDIT_CHAIN_BROKEN: record 2: column")


def test_watch_prints_each_change_as_it_commits_and_resumes_after_a_seq(
    tmp_path: Path, server: ServerProcess
) -> None:
    cli = admin_cli(tmp_path, server)
    name, elsewhere = unique_name("ads"), unique_name("ml")
    namespace = name.split("/")[0]
    unique_files(tmp_path / "m")
    for model in (name, elsewhere):
        ok(cli("push", tmp_path / "m", model))
    ok(cli("alias", "set", name, "before", "1"))
    with watching(cli, namespace, "--action", "alias.*") as watcher:
        ok(cli("alias", "set", name, "champion", "1"))
        ok(cli("alias", "set", elsewhere, "champion", "1"))
        ok(cli("alias", "set", name, "canary", "1"))
        events = [json.loads(watcher.line()) for _ in range(2)]
    assert [e["target"] for e in events] == [f"{name}@champion", f"{name}@canary"]
    with watching(cli, namespace, "--after", str(events[0]["seq"])) as resumed:
        assert json.loads(resumed.line())["seq"] == events[1]["seq"]
    with watching(cli, namespace, "--after", "0", "--action", "alias.*", json_lines=False) as plain:
        first = plain.line().split()
    assert first[3:] == ["admin", "alias.set", f"{name}@before"]


@dataclass
class Watcher:
    """``modeldepot watch`` in the background; its lines gathered by threads (a
    buffered read can take several lines at once, which ``select`` then never sees)."""

    proc: subprocess.Popen[str]
    out: queue.Queue[str] = field(default_factory=queue.Queue)
    err: queue.Queue[str] = field(default_factory=queue.Queue)

    pumps: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            pump = threading.Thread(target=_pump, args=(stream, lines), daemon=True)
            pump.start()
            self.pumps.append(pump)

    def stop(self) -> None:
        """Kill it; its pipes are closed once the pumps have read them to the end."""
        self.proc.kill()
        self.proc.wait()
        for pump in self.pumps:
            pump.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def line(self, timeout: float = 15.0) -> str:
        """The next line on standard output, failing after ``timeout`` seconds."""
        return _next(self.out, timeout)


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _next(lines: queue.Queue[str], timeout: float) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("watch printed nothing") from None


@contextmanager
def watching(cli: Cli, *args: str, json_lines: bool = True) -> Iterator[Watcher]:
    """``modeldepot watch ARGS`` running in the background, killed on exit."""
    proc = subprocess.Popen(
        [MODELDEPOT, "watch", *args, *(["--json"] if json_lines else [])],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watcher = Watcher(proc)
    try:
        # Ready once it says from where it watches (on stderr).
        assert _next(watcher.err, 15.0).startswith("watching changes after ")
        yield watcher
    finally:
        watcher.stop()
