"""End-to-end fixtures: the real ``modeldepot serve`` and CLI, each a subprocess.

* ``start_server(failpoints=None)``: starts ``modeldepot serve`` on a free port with
  its own data directory and the session's database (SQLite, then PostgreSQL); the
  returned ``ServerProcess`` can be killed, stopped and restarted in place.
* ``start_local_server()``: the same on SQLite in its data directory, run once, for
  behaviour that does not depend on the database.
* ``shared_server``: one server per module and backend, for tests that only need it up.
* ``cli``: runs the ``modeldepot`` command against ``shared_server``, one or many at once
  (``make_cli`` builds one for any server).
* ``server_token(server)``: a token of an admin of a server's registry, which ``cli``
  sends as MODELDEPOT_TOKEN: the one its first start wrote to ``admin.token``, else (a
  database other tests already gave users) one made in its database.

The session database is shared with the in-process tests, which leave rows behind, and
every server here has its own blob directory: so tests use ``unique_name()`` and
``unique_files()``, never fixed names or contents.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

# The console script of this interpreter (a pyenv or virtualenv shim would add its own
# start-up time to every call), else whichever is on PATH.
MODELDEPOT = shutil.which("modeldepot", path=str(Path(sys.executable).parent)) or shutil.which(
    "modeldepot"
)
START_TIMEOUT = 15.0


def _clean_env() -> dict[str, str]:
    """The environment without any MODELDEPOT_* setting of the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MODELDEPOT_")}


@dataclass
class ServerProcess:
    """``modeldepot serve`` as a subprocess; restarts keep the port and data directory."""

    port: int
    data_dir: Path
    log_path: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def database_url(self) -> str:
        return self.env.get("MODELDEPOT_DATABASE_URL") or f"sqlite:///{self.data_dir}/modeldepot.db"

    @property
    def auth(self) -> dict[str, str]:
        """Headers authenticating as an admin of this server's registry."""
        return {"Authorization": f"Bearer {server_token(self)}"}

    def start(self, failpoints: str | None = None) -> ServerProcess:
        """Start and wait until ``/healthz`` answers; ``failpoints`` as MODELDEPOT_FAILPOINTS."""
        assert MODELDEPOT, "the modeldepot console script is not installed"
        assert self.proc is None or self.proc.poll() is not None, "server is already running"
        env = dict(self.env)
        if failpoints:
            env["MODELDEPOT_FAILPOINTS"] = failpoints
        with open(self.log_path, "ab") as log:
            log.write(f"--- modeldepot serve (failpoints={failpoints})\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [MODELDEPOT, "serve", *self.args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self._wait_healthy()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, open transactions left behind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait for a graceful shutdown."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def restart(self, failpoints: str | None = None) -> ServerProcess:
        """Start again on the same port and data directory (stopping it first if running)."""
        if self.running:
            self.stop()
        return self.start(failpoints)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        if self.running:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"modeldepot serve exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"modeldepot serve did not answer /healthz within {START_TIMEOUT:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)


def received_bytes(server: ServerProcess, method: str, route: str) -> float:
    """The server's request body bytes counter for ``method`` and ``route`` (since it
    started)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "modeldepot_http_received_bytes":
            for sample in family.samples:
                if sample.labels == {"method": method, "route": route}:
                    return sample.value
    return 0.0


_TOKENS: dict[tuple[str, Path], str] = {}


def server_token(server: ServerProcess) -> str:
    """A token of an admin of ``server``'s registry (see the module's docstring)."""
    key = (server.database_url, server.data_dir)
    if key not in _TOKENS:
        written = server.data_dir / "admin.token"
        if written.exists():
            _TOKENS[key] = written.read_text().strip()
        else:
            _TOKENS[key] = mint_admin_token(server.database_url)
    return _TOKENS[key]


def share_token(server: ServerProcess, like: ServerProcess) -> None:
    """Make ``server`` (a replica of ``like``'s registry) authenticate as ``like`` does."""
    _TOKENS[(server.database_url, server.data_dir)] = server_token(like)


def mint_admin_token(database_url: str) -> str:
    """A new user, admin on ``/``, made in the database itself; its token."""
    from modeldepot.db.engine import Database
    from modeldepot.registry.unit import Units
    from modeldepot.security.context import Context
    from modeldepot.security.identity import IdentityService
    from modeldepot.security.roles import Role

    db = Database(database_url)
    try:
        identity = IdentityService(db, Units(db))
        ctx = Context.system("e2e")
        name = f"e2e-{uuid.uuid4().hex[:10]}"
        identity.create_principal(ctx, name)
        identity.grant(ctx, name, "/", Role.ADMIN)
        return identity.create_token(ctx, "e2e", owner=name).token
    finally:
        db.dispose()


def run_modeldepot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``modeldepot`` command to its end (at most a minute), capturing its output."""
    assert MODELDEPOT, "the modeldepot console script is not installed"
    return subprocess.run(
        [MODELDEPOT, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def server_env() -> dict[str, str]:
    """The environment of a server process, without the developer's MODELDEPOT_* settings."""
    env = _clean_env()
    # The sweeper would only add noise to crash tests; nothing here waits a day.
    env["MODELDEPOT_CLEANUP_INTERVAL_SECONDS"] = "0"
    return env


def new_server(root: Path, database_url: str | None) -> ServerProcess:
    """A server not yet started, on a free port with its data under ``root``, on
    ``database_url`` (None: SQLite in the data directory)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data_dir = root / "data"
    env = server_env()
    if database_url:
        env["MODELDEPOT_DATABASE_URL"] = database_url
    return ServerProcess(
        port=port,
        data_dir=data_dir,
        log_path=root / "server.log",
        env=env,
        args=["--port", str(port), "--data-dir", str(data_dir)],
    )


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember whether the test body failed, so teardown can show the server's log."""
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


def _close_all(servers: Sequence[ServerProcess], failed: bool) -> None:
    for server in servers:
        server.close()
        if failed:
            # Shown under "Captured stderr teardown" of the failing test.
            print(f"--- {server.log_path}\n{server.log_tail()}", file=sys.stderr)


def _server_factory(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str | None
) -> Iterator[Callable[..., ServerProcess]]:
    servers: list[ServerProcess] = []

    def start(failpoints: str | None = None) -> ServerProcess:
        server = new_server(tmp_path / f"server{len(servers)}", database_url)
        servers.append(server)
        return server.start(failpoints)

    yield start
    _close_all(servers, request.node.stash.get(_FAILED, False))


@pytest.fixture
def start_server(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start a real server on the session's database; every one is killed at teardown."""
    yield from _server_factory(request, tmp_path, database_url)


@pytest.fixture
def start_local_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start a real server on SQLite in its data directory, for behaviour that does not
    depend on the database (so it runs once, not once per backend)."""
    yield from _server_factory(request, tmp_path, None)


@pytest.fixture(scope="module")
def shared_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One running server per test module and database backend."""
    server = new_server(tmp_path_factory.mktemp("server"), database_url)
    try:
        yield server.start()
    finally:
        _close_all([server], failed=False)


@dataclass
class Cli:
    """Runs ``modeldepot ARGS…`` in ``cwd`` with ``env`` (server URL, private blob cache)."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MODELDEPOT, *map(str, args)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def many(self, *commands: Sequence[str | Path]) -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands concurrently; results in the order given."""
        procs = [
            subprocess.Popen(
                [MODELDEPOT, *map(str, args)],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        results = []
        try:
            for proc in procs:
                out, err = proc.communicate(timeout=60)
                results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        return results


def make_cli(tmp_path: Path, url: str | ServerProcess) -> Cli:
    """The CLI for the server at ``url``, or for ``server`` with an admin's token."""
    env = _clean_env()
    if isinstance(url, ServerProcess):
        env["MODELDEPOT_TOKEN"] = server_token(url)
        url = url.url
    env["MODELDEPOT_URL"] = url
    env["MODELDEPOT_CACHE_DIR"] = str(tmp_path / "cli-cache")
    # Rich tables wrap to the terminal width; keep rows on one line.
    env["COLUMNS"] = "200"
    return Cli(cwd=tmp_path, env=env)


@pytest.fixture
def cli(shared_server: ServerProcess, tmp_path: Path) -> Cli:
    """The CLI against this module's shared server."""
    return make_cli(tmp_path, shared_server)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have succeeded."""
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} exited {result.returncode}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


def unique_name(namespace: str = "e2e", last: str = "model") -> str:
    """A model name no other test (or earlier run on the shared database) uses."""
    return f"{namespace}-{uuid.uuid4().hex[:10]}/{last}"


def unique_files(root: Path, files: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Write ``files`` (by default small ones whose bytes no other test uploads) under
    ``root``; return them."""
    token = uuid.uuid4().hex.encode()
    files = files or {
        "weights.bin": os.urandom(20_000),
        "config.json": b'{"layers": 3, "run": "' + token + b'"}',
        "tokenizer/vocab.txt": b"hello\nworld\n" + token,
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file below ``root`` as relative POSIX path -> bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
