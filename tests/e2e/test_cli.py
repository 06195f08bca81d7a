"""The ``modeldepot`` command as a user runs it: a subprocess against a real server."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modeldepot.client.client import Client
from modeldepot.db.migrate import head_revision
from tests.conftest import free_port
from tests.e2e.conftest import (
    Cli,
    ServerProcess,
    make_cli,
    ok,
    ok_json,
    server_env,
    server_token,
    tree,
    unique_files,
    unique_name,
)

pytestmark = pytest.mark.e2e

HEAVY = ("alembic", "fastapi", "httpx", "pydantic", "rich", "sqlalchemy", "uvicorn")


def one_line_error(result: subprocess.CompletedProcess[str], code: str) -> str:
    """The single stderr line of a failed command, checked to carry ``code``."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"modeldepot: error: {code}: "), lines[0]
    return lines[0]


@pytest.fixture
def offline_cli(tmp_path: Path) -> Cli:
    """The CLI pointed at a port nothing listens on: for failures found before any request."""
    return make_cli(tmp_path, f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def md(shared_server: ServerProcess, tmp_path: Path) -> Iterator[Client]:
    """The SDK on the same server: it sets up and checks state; the CLI is under test."""
    with Client(
        shared_server.url, cache_dir=tmp_path / "sdk-cache", token=server_token(shared_server)
    ) as client:
        yield client


def test_issue_walkthrough(cli: Cli, md: Client, tmp_path: Path) -> None:
    name = unique_name("ads", "recommender")
    files = unique_files(tmp_path / "model_dir")
    pushed = ok_json(
        cli(
            "push", "./model_dir", name,
            "--description", "first cut",
            "--tag", "team=ads",
            "--param", "lr=0.01",
            "--metric", "auc=0.91",
            "--json",
        )
    )  # fmt: skip
    assert (pushed["model"], pushed["number"], pushed["description"]) == (name, 1, "first cut")
    assert (pushed["tags"], pushed["params"], pushed["metrics"]) == (
        {"team": "ads"},
        {"lr": 0.01},
        {"auc": 0.91},
    )
    assert pushed["file_count"] == len(files)
    digest = pushed["digest"]
    assert ok(cli("alias", "set", name, "champion", "1")).strip() == f"{name}@champion -> 1"

    namespace = name.split("/")[0] + "/"
    deploy, _by_number, _by_digest, *shown = map(
        ok,
        cli.many(
            ["pull", f"{name}@champion", "-o", "./deploy"],
            ["pull", f"{name}:1", "-o", "by-number"],
            ["pull", f"{name}@{digest}", "-o", "by-digest"],
            ["models", "list", "--prefix", namespace],
            ["models", "show", name],
            ["versions", "list", name],
            ["version", "show", f"{name}@champion"],
            ["version", "files", f"{name}:1"],
            ["alias", "list", name],
            ["alias", "history", f"{name}@champion"],
        ),
    )
    assert deploy.startswith(f"pulled {name}:1 {digest} into deploy ")
    for target in ("deploy", "by-number", "by-digest"):
        assert tree(tmp_path / target) == files
    models, model, versions, version, version_files, aliases, history = shown
    assert name in models
    assert "champion=1" in model
    assert digest[:19] in versions and "champion" in versions
    assert f"{name}:1" in version and "auc=0.91" in version and "lr=0.01" in version
    assert all(path in version_files for path in files)
    assert "champion" in aliases
    assert "champion" in history

    unique_files(tmp_path / "model_dir", {"weights.bin": os.urandom(1000)})
    tagged_model, tagged_version, second, no_alias = cli.many(
        ["tag", "set", name, "owner=ml-platform"],
        ["tag", "set", f"{name}:1", "stage=eval"],
        ["push", "model_dir", name],
        ["pull", f"{name}@staging", "-o", "nowhere"],
    )
    tagged_model, tagged_version, second = ok(tagged_model), ok(tagged_version), ok(second)
    assert "staging" in one_line_error(no_alias, "ALIAS_NOT_FOUND")
    assert not (tmp_path / "nowhere").exists()
    assert tagged_model.strip() == f"tagged model {name}: owner"
    assert tagged_version.strip() == f"tagged {name}:1: stage"
    assert second.startswith(f"pushed {name}:2 sha256:")
    assert md.get_model(name).tags == {"owner": "ml-platform"}
    assert md.get_version(f"{name}:1").tags == {"team": "ads", "stage": "eval"}

    untagged_model, untagged_version, deleted, in_use = cli.many(
        ["tag", "rm", name, "owner"],
        ["tag", "rm", f"{name}:1", "stage"],
        ["version", "delete", f"{name}:2"],
        ["version", "delete", f"{name}:1"],
    )
    assert ok(untagged_model).strip() == f"untagged model {name}: owner"
    assert ok(untagged_version).strip() == f"untagged {name}:1: stage"
    assert ok(deleted).startswith(f"deleted {name}:2")
    assert "champion" in one_line_error(in_use, "VERSION_HAS_ALIASES")
    assert md.get_model(name).tags == {}
    assert md.get_version(f"{name}:1").tags == {"team": "ads"}
    assert [v.number for v in md.list_versions(name)] == [1]
    assert [v.number for v in md.list_versions(name, include_deleted=True)] == [2, 1]

    restored, unaliased = map(
        ok,
        cli.many(["version", "restore", f"{name}:2"], ["alias", "rm", name, "champion"]),
    )
    assert restored.strip() == f"restored {name}:2"
    assert unaliased.strip() == f"removed {name}@champion"
    assert md.get_version(name).number == 2
    assert md.list_aliases(name) == []
    assert [(e.from_version, e.to_version) for e in md.alias_history(name, "champion")] == [
        (1, None),
        (None, 1),
    ]

    assert ok(cli("models", "delete", name)).startswith(f"deleted {name}")
    hidden, listed = cli.many(["models", "show", name], ["models", "list", "--prefix", namespace])
    one_line_error(hidden, "MODEL_DELETED")
    assert name not in ok(listed)
    assert ok(cli("models", "restore", name)).strip() == f"restored {name}"
    model_read = md.get_model(name)
    assert (model_read.deleted_at, model_read.latest_version) == (None, 2)


def test_every_read_command_prints_json(cli: Cli, md: Client, tmp_path: Path) -> None:
    name = unique_name("json", "model")
    files = unique_files(tmp_path / "model")
    pushed = md.push(tmp_path / "model", name, tags={"k": "v"}, metrics={"auc": 0.5})
    md.set_alias(name, "champion", 1)

    results = cli.many(
        ["models", "list", "--prefix", name.split("/")[0] + "/", "--json"],
        ["models", "show", name, "--json"],
        ["versions", "list", name, "--json"],
        ["version", "show", f"{name}@champion", "--json"],
        ["version", "files", f"{name}:1", "--json"],
        ["alias", "list", name, "--json"],
        ["alias", "history", name, "--json"],
    )
    models, model, versions, version, manifest, aliases, history = map(ok_json, results)
    me = md.whoami().name  # who the SDK's token belongs to: the actor of its changes
    assert [m["name"] for m in models] == [name]
    assert model["name"] == name and model["latest_version"] == 1 and "created_at" in model
    assert [(v["number"], v["digest"], v["aliases"]) for v in versions] == [
        (1, pushed.digest, ["champion"])
    ]
    assert version["model"] == name and version["number"] == 1
    assert (version["tags"], version["metrics"], version["created_by"]) == (
        {"k": "v"},
        {"auc": 0.5},
        me,
    )
    assert manifest["digest"] == pushed.digest and manifest["schema"] >= 1
    assert {f["path"]: (f["size"], f["digest"]) for f in manifest["files"]} == {
        path: (len(data), "sha256:" + hashlib.sha256(data).hexdigest())
        for path, data in files.items()
    }
    assert [(a["name"], a["version"]) for a in aliases] == [("champion", 1)]
    assert [(e["alias"], e["from_version"], e["to_version"], e["actor"]) for e in history] == [
        ("champion", None, 1, me)
    ]


def test_operator_commands_use_the_server_storage(
    cli: Cli, shared_server: ServerProcess, database_url: str
) -> None:
    storage = ["--data-dir", shared_server.data_dir, "--database-url", database_url]
    # A verified blob no version references: garbage once the grace period is over.
    data = os.urandom(5000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    put = httpx.put(
        f"{shared_server.url}/api/v1/blobs/{digest}", content=data, headers=shared_server.auth
    )
    assert put.status_code == 201, put.text

    report, current, current_json = cli.many(
        ["gc", "--dry-run", "--grace", "0", "--json", *storage],
        ["db", "current", *storage],
        ["db", "current", "--json", *storage],
    )
    report = ok_json(report)
    assert report["dry_run"] is True
    assert report["blobs_deleted"] >= 1 and report["bytes_freed"] >= len(data)
    assert {"uploads_expired", "staged_removed"} <= report.keys()
    # A dry run removes nothing.
    assert (
        httpx.get(f"{shared_server.url}/api/v1/blobs/{digest}", headers=shared_server.auth).content
        == data
    )
    head = head_revision()
    assert ok(current).strip() == f"current: {head}; expected: {head}"
    assert ok_json(current_json) == {"current": head, "expected": head, "up_to_date": True}


def test_unknown_model_fails_with_one_line_error(cli: Cli) -> None:
    name = unique_name("missing", "model")
    for result in cli.many(
        ["models", "show", name],
        ["pull", f"{name}@production", "-o", "out"],
        ["tag", "set", name, "k=v"],
    ):
        assert name in one_line_error(result, "MODEL_NOT_FOUND")
        assert result.stdout == ""


def test_malformed_reference_fails_before_any_request(offline_cli: Cli) -> None:
    for result in offline_cli.many(
        ["version", "show", "Ads/Bad Ref"],
        ["pull", "ads/model:x"],
        ["tag", "set", "ads/model:0", "k=v"],
    ):
        one_line_error(result, "REFERENCE_INVALID")


def test_bad_key_value_and_metric_are_usage_errors(offline_cli: Cli, tmp_path: Path) -> None:
    unique_files(tmp_path / "model")
    bad_tag, bad_param, bad_metric, bad_tag_set, no_args, unknown = offline_cli.many(
        ["push", "model", "ads/model", "--tag", "novalue"],
        ["push", "model", "ads/model", "--param", "=1"],
        ["push", "model", "ads/model", "--metric", "auc=high"],
        ["tag", "set", "ads/model", "novalue"],
        ["versions", "list"],
        ["frobnicate"],
    )
    for result in (bad_tag, bad_param, bad_metric, bad_tag_set, no_args, unknown):
        assert result.returncode == 2, (result.args, result.stderr)
        assert result.stdout == ""
    assert "expected KEY=VALUE, got 'novalue'" in bad_tag.stderr
    assert "expected KEY=VALUE, got '=1'" in bad_param.stderr
    assert "auc='high' is not a number" in bad_metric.stderr
    assert "expected KEY=VALUE, got 'novalue'" in bad_tag_set.stderr


def test_bad_key_value_and_metric_print_one_line(offline_cli: Cli, tmp_path: Path) -> None:
    unique_files(tmp_path / "model")
    for result in offline_cli.many(
        ["push", "model", "ads/model", "--tag", "novalue"],
        ["push", "model", "ads/model", "--metric", "auc=high"],
    ):
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("modeldepot: error: ")


def test_help_imports_no_heavy_module() -> None:
    script = (
        "import sys\n"
        "from modeldepot.cli.main import cli\n"
        "cli(['--help'], standalone_mode=False)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    *help_lines, loaded = result.stdout.splitlines()
    assert any(line.strip().startswith("push") for line in help_lines)
    assert loaded == "[]"


def test_serve_takes_host_port_and_data_dir_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = server_env()
    # 127.0.0.2 is loopback too, so answering there (and not on 127.0.0.1) proves the
    # listen address came from MODELDEPOT_HOST.
    env.update(
        MODELDEPOT_HOST="127.0.0.2", MODELDEPOT_PORT=str(port), MODELDEPOT_DATA_DIR=str(data_dir)
    )
    server = ServerProcess(
        port=port, data_dir=data_dir, log_path=tmp_path / "server.log", env=env, host="127.0.0.2"
    )
    try:
        server.start()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert (data_dir / "modeldepot.db").is_file()
        assert (data_dir / "blobs").is_dir()
        cli = make_cli(tmp_path, server)
        files = unique_files(tmp_path / "model")
        ok(cli("push", "model", unique_name()))
        stored = {p.name for p in (data_dir / "blobs").rglob("*") if p.is_file()}
        assert {hashlib.sha256(b).hexdigest() for b in files.values()} <= stored
        server.stop()
        # uvicorn re-raises the SIGTERM it handled, after a graceful shutdown.
        assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in server.log_tail()
    finally:
        server.close()
