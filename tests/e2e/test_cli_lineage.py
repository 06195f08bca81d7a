"""Lineage through the ``modeldepot`` command: what ``push`` records (datasets, params
files, lineage files, relations, cards, capture) and the ``version`` commands that read
it back (``show [--at]``, ``lineage``, ``env``, ``diff``, ``graph``, ``relate``,
``unrelate``), each a subprocess against a real server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeldepot.client.client import Client
from modeldepot.errors import ModelNotFound
from tests.conftest import free_port
from tests.e2e.conftest import (
    Cli,
    ServerProcess,
    make_cli,
    ok,
    ok_json,
    server_token,
    unique_files,
    unique_name,
)
from tests.e2e.test_cli import one_line_error

pytestmark = pytest.mark.e2e

IMAGE = "ghcr.io/e2e/train:3"


@pytest.fixture
def md(shared_server: ServerProcess, tmp_path: Path) -> Iterator[Client]:
    """The SDK on the same server: it sets up and checks state; the CLI is under test."""
    with Client(
        shared_server.url, cache_dir=tmp_path / "sdk-cache", token=server_token(shared_server)
    ) as client:
        yield client


@pytest.fixture
def offline_cli(tmp_path: Path) -> Cli:
    """The CLI pointed at a port nothing listens on: for failures found before any request."""
    return make_cli(tmp_path, f"http://127.0.0.1:{free_port()}")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fields(text: str) -> dict[str, str]:
    """The ``key  value`` lines of a ``show`` command (keys are padded to one width)."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in text.splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def usage_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command refused as a usage error (exit 2)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("modeldepot: error: "), lines[0]
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_push_records_datasets_params_file_lineage_file_relations_and_card(
    cli: Cli, md: Client, tmp_path: Path
) -> None:
    namespace = unique_name("lineage").split("/")[0]
    name, base, emb = (f"{namespace}/{last}" for last in ("rec", "base", "emb"))
    unique_files(tmp_path / "base")
    md.push(tmp_path / "base", base, capture=False)
    md.push(tmp_path / "base", emb, capture=False)
    md.set_alias(base, "prod", 1)
    unique_files(tmp_path / "model")
    train_uri, val_uri = f"s3://{namespace}/train", f"s3://{namespace}/val"
    train_digest = sha256(os.urandom(16))
    params = write(
        tmp_path / "params.json",
        json.dumps({"optimizer": {"name": "adam", "lr": 0.01}, "layers": [64, 32], "epochs": 5}),
    )
    code = {
        "repository": "https://git.example.com/ads/rec.git",
        "commit": "abc123",
        "branch": "main",
    }
    lineage_file = write(
        tmp_path / "lineage.json",
        json.dumps({"code": code, "format": {"name": "other", "framework": "numpy"}}),
    )
    card = write(tmp_path / "card.md", "# rec\n\n## Intended use\n\nRanking ads.\n")

    pushed = ok_json(
        cli(
            "push", "model", name,
            "--dataset", f"uri={train_uri},role=train,digest={train_digest},personal",
            "--dataset", f"uri={val_uri},role=validation,name=holdout,size=2048",
            "--params-file", params,
            "--param", "epochs=7",
            "--lineage", lineage_file,
            "--derived-from", f"{base}@prod",
            "--depends-on", f"{emb}:1",
            "--card", card,
            "--no-capture",
            "--json",
        )
    )  # fmt: skip
    # The file nests; --param wins over the file's value of the same key.
    assert pushed["params"] == {
        "optimizer": {"name": "adam", "lr": 0.01},
        "layers": [64, 32],
        "epochs": 7,
    }
    assert (pushed["number"], pushed["format"]) == (1, "other")

    lineage, shown, shown_json = cli.many(
        ["version", "lineage", f"{name}:1", "--json"],
        ["version", "show", f"{name}:1"],
        ["version", "show", name, "--json"],
    )
    lineage = ok_json(lineage)
    assert (lineage["model"], lineage["number"]) == (name, 1)
    assert {k: lineage["code"][k] for k in code} == code
    assert (lineage["format"]["name"], lineage["format"]["framework"]) == ("other", "numpy")
    # --no-capture: no environment beyond what was given, and none was.
    assert lineage["environment"] is None
    assert [
        (d["role"], d["uri"], d["digest"], d["name"], d["size"], d["personal_data"])
        for d in lineage["datasets"]
    ] == [
        ("train", train_uri, train_digest, "", None, True),
        ("validation", val_uri, "", "holdout", 2048, False),
    ]
    assert [(r["model"], r["number"]) for r in lineage["derived_from"]] == [(base, 1)]
    assert [(r["model"], r["number"]) for r in lineage["depends_on"]] == [(emb, 1)]
    assert md.get_version_card(f"{name}:1").card == card.read_text()

    lines = fields(ok(shown))
    assert lines["version"] == f"{name}:1"
    assert lines["code"] == "https://git.example.com/ads/rec.git@abc123"
    assert lines["branch"] == "main"
    assert lines["format"] == "other (numpy)"
    assert lines["data (train)"] == f"{train_uri} {train_digest[:19]}, personal data"
    assert lines["data (validation)"] == val_uri
    assert lines["derived from"] == f"{base}:1"
    assert lines["depends on"] == f"{emb}:1"
    assert "environment" not in lines
    assert "epochs=7" in lines["params"]

    shown_json = ok_json(shown_json)
    assert (shown_json["model"], shown_json["number"]) == (name, 1)
    assert shown_json["lineage"] == lineage
    assert md.get_lineage(f"{base}:1").used_by[0].model == name


def test_push_with_capture_records_the_environment_that_env_and_diff_show(
    cli: Cli, md: Client, tmp_path: Path
) -> None:
    name = unique_name("capture")
    unique_files(tmp_path / "model")
    ok(cli("push", "model", name, "--no-capture", "-q", "--param", "seed=1"))
    unique_files(tmp_path / "model", {"weights.bin": os.urandom(3000)})
    params = write(
        tmp_path / "params.yaml",
        "optimizer:\n  name: sgd\n  lr: 0.1\nlayers: [8]\nseed: 1\n",
    )
    pushed = ok_json(
        cli(
            "push", "model", name,
            "--params-file", params,
            "--param", "seed=2",
            "--metric", "auc=0.9",
            "--image", IMAGE,
            "-q", "--json",
        )
    )  # fmt: skip
    assert pushed["params"] == {"optimizer": {"name": "sgd", "lr": 0.1}, "layers": [8], "seed": 2}

    lineage, shown, env, diff_text, diff_json = cli.many(
        ["version", "lineage", f"{name}:2", "--json"],
        ["version", "show", f"{name}:2"],
        ["version", "env", f"{name}:2"],
        ["version", "diff", f"{name}:1", f"{name}:2"],
        ["version", "diff", f"{name}:1", f"{name}:2", "--json"],
    )
    environment = ok_json(lineage)["environment"]
    assert environment["container_image"] == IMAGE
    assert environment["packages"]["click"]
    lines = fields(ok(shown))
    assert lines["image"] == IMAGE
    assert lines["environment"].endswith(f"{len(environment['packages'])} packages")

    requirements = ok(env).splitlines()
    assert f"# Container image: {IMAGE}" in requirements
    assert f"click=={environment['packages']['click']}" in requirements
    pinned = [line for line in requirements if line and not line.startswith("#")]
    assert len(pinned) == len(environment["packages"])

    diff = ok_json(diff_json)
    assert (diff["a"], diff["b"], diff["same_content"]) == (f"{name}:1", f"{name}:2", False)
    assert {(c["key"], c["a"], c["b"]) for c in diff["params"]} == {
        ("seed", 1, 2),
        ("optimizer.name", None, "sgd"),
        ("optimizer.lr", None, 0.1),
        ("layers.0", None, 8),
    }
    assert [(c["key"], c["a"], c["b"]) for c in diff["metrics"]] == [("auc", None, 0.9)]
    assert {c["key"] for c in diff["packages"]} == set(environment["packages"])
    assert [(f["path"], f["change"]) for f in diff["files"]] == [("weights.bin", "changed")]
    text = ok(diff_text)
    assert text.splitlines()[0] == f"{name}:1 → {name}:2: different content"
    assert re.search(r"^params\s+seed\s+1\s+2\s*$", text, re.M), text
    assert re.search(r"^metrics\s+auc\s+-\s+0\.9\s*$", text, re.M), text
    assert re.search(r"^files\s+weights\.bin\s", text, re.M), text


def test_push_without_capture_still_records_the_entry_point_and_image_given(
    cli: Cli, tmp_path: Path
) -> None:
    name = unique_name("nocapture")
    unique_files(tmp_path / "model")
    lineage_file = write(tmp_path / "lineage.yaml", "code:\n  commit: abc123\n")
    ok(
        cli(
            "push", "model", name,
            "--lineage", lineage_file,
            "--entry-point", "jobs/train.py",
            "--image", IMAGE,
            "--no-capture", "-q",
        )
    )  # fmt: skip
    lineage = ok_json(cli("version", "lineage", name, "--json"))
    code, environment = lineage["code"] or {}, lineage["environment"] or {}
    # What the user gave is recorded; --no-capture only stops the capture of the git
    # checkout, the installed packages and the format.
    assert (
        code.get("commit"),
        code.get("entry_point"),
        environment.get("container_image"),
        environment.get("packages"),
    ) == ("abc123", "jobs/train.py", IMAGE, {})


def test_version_show_at_a_past_instant_gives_where_the_alias_pointed(
    cli: Cli, md: Client, tmp_path: Path
) -> None:
    name = unique_name("history")
    for _ in range(2):
        unique_files(tmp_path / "model")
        md.push(tmp_path / "model", name, capture=False)
    md.set_alias(name, "prod", 1)
    md.set_alias(name, "prod", 2)
    history = ok_json(cli("alias", "history", f"{name}@prod", "--json"))
    moves = {event["to_version"]: event["at"] for event in history}
    assert set(moves) == {1, 2}

    first, second, first_text, bad_time = cli.many(
        ["version", "show", f"{name}@prod", "--at", moves[1], "--json"],
        ["version", "show", f"{name}@prod", "--at", moves[2], "--json"],
        ["version", "show", f"{name}@prod", "--at", moves[1]],
        ["version", "show", f"{name}@prod", "--at", "yesterday"],
    )
    first, second = ok_json(first), ok_json(second)
    assert (first["model"], first["number"]) == (name, 1)
    assert first["lineage"]["number"] == 1
    assert second["number"] == 2
    assert fields(ok(first_text))["version"] == f"{name}:1"
    assert "yesterday" in one_line_error(bad_time, "TIME_INVALID")
    assert bad_time.stdout == ""


def test_graph_relate_and_unrelate(cli: Cli, md: Client, tmp_path: Path) -> None:
    namespace = unique_name("graph").split("/")[0]
    base, rec, user = (f"{namespace}/{last}" for last in ("base", "rec", "user"))
    uri = f"s3://{namespace}/clicks"
    for model in (base, rec, user):
        unique_files(tmp_path / model)
    md.push(tmp_path / base, base, capture=False)
    md.push(
        tmp_path / rec,
        rec,
        capture=False,
        derived_from=[f"{base}:1"],
        datasets=[{"uri": uri, "role": "train"}],
        lineage={"code": {"repository": "https://git.example.com/r.git", "commit": "c0ffee"}},
    )
    md.push(tmp_path / user, user, capture=False)

    related = ok(cli("version", "relate", user, "depends_on", f"{rec}:1"))
    assert related.strip() == f"{user}:1 depends_on {rec}:1"
    graph, graph_text, cycle, self_cycle = cli.many(
        ["version", "graph", f"{rec}:1", "--json"],
        ["version", "graph", f"{rec}:1"],
        ["version", "relate", f"{base}:1", "derived_from", f"{rec}:1"],
        ["version", "relate", f"{rec}:1", "derived_from", f"{rec}:1"],
    )
    graph = ok_json(graph)
    root = f"version:{rec}:1"
    assert graph["root"] == root
    nodes = {n["id"]: n for n in graph["nodes"]}
    labels = {n["label"]: n["kind"] for n in graph["nodes"]}
    assert {f"version:{base}:1", f"version:{user}:1", root} <= nodes.keys()
    assert labels[uri] == "dataset"
    assert labels["https://git.example.com/r.git@c0ffee"] == "code"
    dataset_id = next(n["id"] for n in graph["nodes"] if n["label"] == uri)
    assert {(e["source"], e["kind"], e["target"]) for e in graph["edges"]} == {
        (root, "derived_from", f"version:{base}:1"),
        (f"version:{user}:1", "depends_on", root),
        (root, "uses:train", dataset_id),
        (root, "built_from", "code:https://git.example.com/r.git@c0ffee"),
    }
    text = ok(graph_text)
    assert re.search(rf"^{re.escape(rec)}:1\s+derived_from\s+{re.escape(base)}:1\s*$", text, re.M)
    assert re.search(rf"^{re.escape(user)}:1\s+depends_on\s+{re.escape(rec)}:1\s*$", text, re.M)
    one_line_error(cycle, "RELATION_CYCLE")
    one_line_error(self_cycle, "RELATION_CYCLE")
    assert md.get_lineage(f"{base}:1").derived_from == []

    unrelated = ok(cli("version", "unrelate", user, "depends_on", f"{rec}:1"))
    assert unrelated.strip() == f"{user}:1 no longer depends_on {rec}:1"
    assert md.get_lineage(f"{user}:1").depends_on == []
    assert [r.model for r in md.get_lineage(f"{rec}:1").used_by] == []
    one_line_error(cli("version", "unrelate", user, "depends_on", f"{rec}:1"), "RELATION_NOT_FOUND")


def test_malformed_push_options_are_usage_errors(offline_cli: Cli, tmp_path: Path) -> None:
    unique_files(tmp_path / "model")
    write(tmp_path / "list.json", "[1, 2]")
    write(tmp_path / "list.yaml", "- 1\n- 2\n")
    no_uri, json_list, yaml_list, bad_kind = offline_cli.many(
        ["push", "model", "ads/model", "--dataset", "role=train"],
        ["push", "model", "ads/model", "--params-file", "list.json"],
        ["push", "model", "ads/model", "--params-file", "list.yaml"],
        ["version", "relate", "ads/model:1", "parent_of", "ads/other:1"],
    )
    assert "--dataset" in usage_error(no_uri) and "uri" in no_uri.stderr
    assert "mapping" in usage_error(json_list)
    assert "mapping" in usage_error(yaml_list)
    assert "parent_of" in usage_error(bad_kind)


def test_bad_lineage_and_missing_relation_target_push_nothing(
    cli: Cli, md: Client, tmp_path: Path
) -> None:
    namespace = unique_name("refused").split("/")[0]
    name = f"{namespace}/model"
    unique_files(tmp_path / "model")
    write(tmp_path / "lineage.json", json.dumps({"code": {"commit": "abc"}, "colour": "red"}))
    bad_lineage, no_target = cli.many(
        ["push", "model", name, "--lineage", "lineage.json", "--no-capture", "-q"],
        ["push", "model", name, "--derived-from", f"{namespace}/none:1", "--no-capture", "-q"],
    )
    assert "colour" in one_line_error(bad_lineage, "LINEAGE_INVALID")
    assert f"{namespace}/none" in one_line_error(no_target, "RELATION_TARGET_NOT_FOUND")
    assert bad_lineage.stdout == no_target.stdout == ""
    with pytest.raises(ModelNotFound):
        md.get_model(name)
