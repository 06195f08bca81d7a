"""Identities through the real CLI and server: login, whoami, tokens, accounts, groups,
grants; one-line errors; anonymous access as configured; no secret in the server's log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import (
    MODELDEPOT,
    Cli,
    ServerProcess,
    make_cli,
    new_server,
    ok,
    ok_json,
    server_token,
)

pytestmark = pytest.mark.e2e
PASSWORD = "e2e password 42"


def person(tmp_path: Path, server: ServerProcess, who: str) -> Cli:
    """The CLI of someone with a home of their own and no credential at all."""
    home = tmp_path / who
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELDEPOT_", "XDG_"))}
    env |= {
        "HOME": str(home),
        "MODELDEPOT_URL": server.url,
        "MODELDEPOT_CACHE_DIR": str(home / "cache"),
        "COLUMNS": "200",
    }
    return Cli(cwd=home, env=env)


def run(cli: Cli, *args: str, stdin: str = "", env: dict[str, str] | None = None):
    return subprocess.run(
        [MODELDEPOT, *args],
        cwd=cli.cwd,
        env=cli.env | (env or {}),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str], code: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"modeldepot: error: {code}: "), lines
    return lines[0]


@pytest.fixture
def server(start_local_server) -> ServerProcess:
    return start_local_server()


def test_a_user_logs_in_works_within_its_roles_and_logs_out(
    server: ServerProcess, tmp_path: Path
) -> None:
    admin = make_cli(tmp_path, server)
    ok(run(admin, "user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n"))
    ok(run(admin, "grant", "add", "alice", "contributor", "ads/"))
    alice = person(tmp_path, server, "alice")
    refused(run(alice, "whoami"), "UNAUTHENTICATED")

    logged = ok(run(alice, "login", "-u", "alice", "--password-stdin", stdin=PASSWORD + "\n"))
    assert f"logged in to {server.url} as alice" in logged
    stored = Path(alice.env["HOME"]) / ".config" / "modeldepot" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert PASSWORD not in stored.read_text()
    me = ok_json(run(alice, "whoami", "--json"))
    assert (me["name"], me["grants"], me["token"]["name"]) == (
        "alice",
        ["contributor on ads/"],
        "cli",
    )

    # Within its roles, and not beyond: one line naming the code.
    line = refused(run(alice, "grant", "add", "alice", "admin", "/"), "FORBIDDEN")
    assert "admin" in line
    refused(run(alice, "user", "list"), "FORBIDDEN")

    ok(run(alice, "logout"))
    assert json.loads(stored.read_text()) == {}
    refused(run(alice, "whoami"), "UNAUTHENTICATED")
    # Logging out revoked the token, not only forgot it.
    revoked = [
        t for t in ok_json(run(admin, "token", "list", "--all", "--json")) if t["owner"] == "alice"
    ]
    assert [t["revoked"] for t in revoked] == [True]


def test_a_wrong_password_is_one_line_and_stores_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    admin = make_cli(tmp_path, server)
    ok(run(admin, "user", "create", "bob", "--password-stdin", stdin=PASSWORD + "\n"))
    bob = person(tmp_path, server, "bob")
    line = refused(
        run(bob, "login", "-u", "bob", "--password-stdin", stdin="nope nope\n"), "UNAUTHENTICATED"
    )
    assert "nope nope" not in line
    assert not (Path(bob.env["HOME"]) / ".config" / "modeldepot" / "credentials.json").exists()


def test_tokens_are_created_once_scoped_listed_used_and_revoked(
    server: ServerProcess, tmp_path: Path
) -> None:
    admin = make_cli(tmp_path, server)
    made = run(
        admin, "token", "create", "ci", "--prefix", "ads/", "--role", "reader", "--expires", "1d"
    )
    token = ok(made).strip()
    assert token.startswith("mdp_") and "shown only this once" in made.stderr
    ci = person(tmp_path, server, "ci")
    me = ok_json(run(ci, "whoami", "--json", env={"MODELDEPOT_TOKEN": token}))
    assert me["name"] == "admin" and me["token"]["scope"] == {"prefix": "ads/", "role": "reader"}
    refused(
        run(ci, "token", "create", "wider", "--prefix", "/", env={"MODELDEPOT_TOKEN": token}),
        "FORBIDDEN",
    )

    listed = run(admin, "token", "list", "--json")
    assert token not in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    (ci_row,) = [t for t in json.loads(ok(listed)) if t["name"] == "ci"]
    assert ci_row["last_used_from"] == "127.0.0.1" and ci_row["last_used_at"]
    table = ok(run(admin, "token", "list")).splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "OWNER"]
    assert any(ci_row["id"] in row and "reader on ads/" in row and "active" in row for row in table)

    ok(run(admin, "token", "revoke", ci_row["id"]))
    refused(run(ci, "whoami", env={"MODELDEPOT_TOKEN": token}), "TOKEN_REVOKED")
    assert ok(run(admin, "token", "list")).count("revoked") == 1


def test_login_with_a_token_from_stdin_stores_it(server: ServerProcess, tmp_path: Path) -> None:
    token = server_token(server)
    someone = person(tmp_path, server, "someone")
    ok(run(someone, "login", "--token", "-", stdin=token + "\n"))
    assert "admin" in ok(run(someone, "whoami"))
    refused(run(someone, "login", "--token", "mdp_not_a_token"), "UNAUTHENTICATED")


def test_accounts_groups_and_grants_are_managed_from_the_cli(
    server: ServerProcess, tmp_path: Path
) -> None:
    admin = make_cli(tmp_path, server)
    ok(run(admin, "user", "create", "carol", "--display-name", "Carol"))
    ok(run(admin, "service-account", "create", "deployer"))
    users = ok_json(run(admin, "user", "list", "--json"))
    assert [(u["name"], u["kind"]) for u in users] == [
        ("admin", "user"),
        ("carol", "user"),
        ("deployer", "service"),
    ]
    assert "deployer" in ok(run(admin, "user", "list", "--kind", "service"))
    ok(run(admin, "group", "create", "team-ads", "--description", "Ads"))
    assert ok(run(admin, "group", "add", "team-ads", "carol", "deployer")).strip() == (
        "team-ads: carol, deployer"
    )
    ok(run(admin, "grant", "add", "team-ads", "maintainer", "ads/"))
    shown = ok(run(admin, "user", "show", "carol"))
    assert "team-ads" in shown and "Carol" in shown
    grants = ok_json(run(admin, "grant", "list", "--subject", "team-ads", "--json"))
    assert [(g["role"], g["prefix"]) for g in grants] == [("maintainer", "ads/")]
    groups = ok_json(run(admin, "group", "list", "--json"))
    assert groups[0]["members"] == ["carol", "deployer"]

    robot = ok(
        run(
            admin,
            "token",
            "create",
            "deploy",
            "--owner",
            "deployer",
            "--role",
            "maintainer",
            "--prefix",
            "ads/",
        )
    ).strip()
    assert (
        ok_json(run(admin, "whoami", "--json", env={"MODELDEPOT_TOKEN": robot}))["kind"]
        == "service"
    )

    ok(run(admin, "grant", "remove", "team-ads", "ads/"))
    refused(run(admin, "grant", "remove", "team-ads", "ads/"), "GRANT_NOT_FOUND")
    ok(run(admin, "group", "remove", "team-ads", "deployer"))
    ok(run(admin, "group", "delete", "team-ads"))
    ok(run(admin, "user", "disable", "deployer"))
    refused(run(admin, "whoami", env={"MODELDEPOT_TOKEN": robot}), "UNAUTHENTICATED")
    ok(run(admin, "user", "delete", "deployer"))
    refused(run(admin, "user", "show", "deployer"), "PRINCIPAL_NOT_FOUND")
    refused(run(admin, "user", "create", "carol"), "PRINCIPAL_EXISTS")
    refused(run(admin, "user", "delete", "admin"), "INVALID_INPUT")


def test_the_servers_log_and_metrics_never_show_a_token_or_password(
    server: ServerProcess, tmp_path: Path
) -> None:
    admin = make_cli(tmp_path, server)
    ok(run(admin, "user", "create", "dave", "--password-stdin", stdin=PASSWORD + "\n"))
    dave = person(tmp_path, server, "dave")
    ok(run(dave, "login", "-u", "dave", "--password-stdin", stdin=PASSWORD + "\n"))
    run(dave, "login", "-u", "dave", "--password-stdin", stdin="wrong-" + PASSWORD + "\n")
    token = ok(run(admin, "token", "create", "leak-check")).strip()
    bad = token[:-2] + ("zz" if not token.endswith("zz") else "yy")
    for credential in (token, bad, server_token(server)):
        httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {credential}"})
        httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": credential})
    metrics = httpx.get(f"{server.url}/metrics").text
    log = server.log_path.read_text()
    assert "/api/v1/whoami" in log  # the access log saw the requests
    for secret in (
        token,
        token.split("_", 2)[2],
        bad.split("_", 2)[2],
        server_token(server),
        PASSWORD,
    ):
        assert secret not in log and secret not in metrics


def test_anonymous_read_serves_reads_only(tmp_path: Path) -> None:
    server = new_server(tmp_path / "anon", None)
    server.env["MODELDEPOT_ANONYMOUS"] = "read"
    server.start()
    try:
        admin = make_cli(tmp_path, server)
        (tmp_path / "m").mkdir()
        (tmp_path / "m" / "w.bin").write_bytes(b"weights")
        ok(run(admin, "push", str(tmp_path / "m"), "pub/model", "--no-capture"))
        anyone = person(tmp_path, server, "anyone")
        assert ok_json(run(anyone, "whoami", "--json"))["name"] == "anonymous"
        ok(run(anyone, "pull", "pub/model", "-o", "out"))
        refused(run(anyone, "alias", "set", "pub/model", "champion", "1"), "FORBIDDEN")
        refused(run(anyone, "token", "create", "mine"), "UNAUTHENTICATED")
    finally:
        server.close()


def serve_public(tmp_path: Path, **env: str) -> ServerProcess:
    server = new_server(tmp_path / "public", None)
    server.env |= {"MODELDEPOT_ANONYMOUS": "write", **env}
    port = free_port()
    server.port = port
    server.args = ["--host", "0.0.0.0", "--port", str(port), "--data-dir", str(server.data_dir)]
    return server


def test_serve_refuses_anonymous_write_on_a_public_address(tmp_path: Path) -> None:
    server = serve_public(tmp_path)
    result = subprocess.run(
        [MODELDEPOT, "serve", *server.args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    line = refused(result, "PUBLIC_ANONYMOUS_WRITE")
    assert "MODELDEPOT_ALLOW_PUBLIC_ANONYMOUS_WRITE" in line
    assert "serving on" not in result.stderr


def test_serve_allows_confirmed_public_anonymous_write_with_a_warning(tmp_path: Path) -> None:
    server = serve_public(tmp_path, MODELDEPOT_ALLOW_PUBLIC_ANONYMOUS_WRITE="1")
    server.start()
    try:
        assert "anonymous write on 0.0.0.0" in server.log_path.read_text()
        me = httpx.get(f"{server.url}/api/v1/whoami").json()
        assert me["name"] == "anonymous" and me["grants"] == ["maintainer on /"]
    finally:
        server.close()


def test_a_provisioned_admin_token_works_from_the_first_start(tmp_path: Path) -> None:
    """``token generate`` needs no server; the token it prints, given to a new server as
    MODELDEPOT_ADMIN_TOKEN, is its admin's from the first request."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDEPOT_")}
    env["MODELDEPOT_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    generated = subprocess.run(
        [MODELDEPOT, "token", "generate"], env=env, capture_output=True, text=True, check=True
    )
    token = generated.stdout.strip()
    assert token.startswith("mdp_") and len(token) == 60
    server = new_server(tmp_path / "provisioned", None)
    server.env["MODELDEPOT_ADMIN_TOKEN"] = token
    server.start()
    try:
        me = httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["name"] == "admin"
    finally:
        server.close()
