"""Finding and reviewing models through the ``modeldepot`` command: owner and risk,
model cards, ``search``, ``dataset``, ``inventory`` and ``verify``, each a subprocess
against a real server, and ``--json`` on every new read command."""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modeldepot.client.client import Client
from tests.api.test_cards import ALL_SECTIONS
from tests.api.test_inventory import CSV_COLUMNS
from tests.e2e.conftest import (
    Cli,
    ServerProcess,
    ok,
    ok_json,
    server_token,
    unique_files,
    unique_name,
)
from tests.e2e.test_cli import one_line_error
from tests.e2e.test_cli_lineage import fields, sha256

pytestmark = pytest.mark.e2e


@pytest.fixture
def md(shared_server: ServerProcess, tmp_path: Path) -> Iterator[Client]:
    """The SDK on the same server: it sets up and checks state; the CLI is under test."""
    with Client(
        shared_server.url, cache_dir=tmp_path / "sdk-cache", token=server_token(shared_server)
    ) as client:
        yield client


def unique_word() -> str:
    """A word of letters only that no other test's text holds (for free-text search)."""
    return "zeb" + uuid.uuid4().hex[:10].translate(str.maketrans("0123456789", "ghijklmnop"))


def push(md: Client, root: Path, name: str, **kwargs: Any) -> None:
    """Push fresh files as the next version of ``name``, without capture."""
    unique_files(root)
    md.push(root, name, capture=False, **kwargs)


def test_models_create_update_and_show_owner_contacts_and_risk(cli: Cli) -> None:
    name = unique_name("owned")
    created = ok_json(
        cli(
            "models", "create", name,
            "-d", "scores loan applications",
            "--owner", "team-risk",
            "--contact", "risk@example.com",
            "--contact", "#risk-oncall",
            "--risk", "high",
            "--risk-reason", "credit decisions",
            "--json",
        )
    )  # fmt: skip
    assert (created["name"], created["owner"], created["contacts"]) == (
        name,
        "team-risk",
        ["risk@example.com", "#risk-oncall"],
    )
    assert (created["risk_level"], created["risk_reason"]) == ("high", "credit decisions")

    contacts = ["--contact", "ads@example.com", "--contact", "#ads"]
    updated, extreme = cli.many(
        ["models", "update", name, "--owner", "team-ads", "--risk", "limited", *contacts],
        ["models", "update", name, "--risk", "extreme"],
    )
    assert ok(updated).strip() == f"updated {name}"
    assert extreme.returncode == 2 and extreme.stdout == ""
    assert len(extreme.stderr.splitlines()) == 1, extreme.stderr
    assert "extreme" in extreme.stderr and "--risk" in extreme.stderr

    shown, shown_json = cli.many(["models", "show", name], ["models", "show", name, "--json"])
    lines = fields(ok(shown))
    assert lines["owner"] == "team-ads"
    assert lines["contacts"] == "ads@example.com, #ads"
    # Only what is given changes: the reason stays with the new level.
    assert lines["risk"] == "limited (credit decisions)"
    model = ok_json(shown_json)
    assert (model["owner"], model["contacts"], model["risk_level"], model["risk_reason"]) == (
        "team-ads",
        ["ads@example.com", "#ads"],
        "limited",
        "credit decisions",
    )
    assert model["description"] == "scores loan applications"


def test_model_card_init_set_show_and_remove(cli: Cli, md: Client, tmp_path: Path) -> None:
    name = unique_name("carded")
    md.create_model(name)
    missing, missing_json, template = cli.many(
        ["models", "card", "show", name],
        ["models", "card", "show", name, "--json"],
        ["models", "card", "init", name],
    )
    assert missing.returncode == 1 and missing.stdout == ""
    assert len(missing.stderr.splitlines()) == 1, missing.stderr
    assert missing.stderr.startswith("modeldepot: error: ") and name in missing.stderr
    assert ok_json(missing_json)["card"] is None
    template = ok(template)
    assert f"# {name}" in template
    # The template is a card the server accepts, with every known section to fill in.
    card = template.replace("[More Information Needed]", "Scoring loan applications.", 1)
    assert card != template
    (tmp_path / "CARD.md").write_text(card, encoding="utf-8")

    rest = ", ".join(ALL_SECTIONS[1:])
    assert ok(cli("models", "card", "set", name, "CARD.md")).strip() == (
        f"card of {name} set: 17% complete; missing: {rest}"
    )
    shown, shown_json, model = cli.many(
        ["models", "card", "show", name],
        ["models", "card", "show", name, "--json"],
        ["models", "show", name],
    )
    assert ok(shown) == card
    assert shown.stderr.strip() == f"17% complete; missing: {rest}"
    found = ok_json(shown_json)
    assert (found["card"], found["missing"]) == (card, list(ALL_SECTIONS[1:]))
    assert found["completeness"] == pytest.approx(1 / 6, abs=0.01)
    assert fields(ok(model))["card"] == "17% complete"

    assert ok(cli("models", "card", "rm", name)).strip() == f"card of {name} removed"
    assert md.get_card(name).card is None
    gone = cli("models", "card", "show", name)
    assert gone.returncode == 1 and len(gone.stderr.splitlines()) == 1, gone.stderr


def test_search_models_and_versions(cli: Cli, md: Client, tmp_path: Path) -> None:
    namespace = unique_name("search").split("/")[0]
    fraud, ranker = f"{namespace}/fraud", f"{namespace}/ranker"
    word = unique_word()
    md.create_model(
        fraud, description=f"{word} fraud detection", owner="team-risk", risk_level="high"
    )
    md.create_model(ranker, description="ranks ads", owner="team-ads", risk_level="minimal")
    push(md, tmp_path / "f", fraud, metrics={"auc": 0.8})
    push(md, tmp_path / "f", fraud)
    push(md, tmp_path / "r", ranker, metrics={"auc": 0.7})
    push(md, tmp_path / "r", ranker, metrics={"auc": 0.9}, tags={"stage": "prod"})
    ours = f'name GLOB "{namespace}/*"'

    (
        models_text,
        high_risk,
        free_text,
        free_text_json,
        by_auc,
        by_auc_text,
        tagged,
        type_mismatch,
        model_type_mismatch,
        syntax,
    ) = cli.many(
        ["search", ours],
        ["search", f"{ours} AND risk >= high", "--json"],
        ["search", f'"{word}"'],
        ["search", f'"{word}"', "--json"],
        ["search", "--versions", ours, "--sort", "-metrics.auc", "--json"],
        ["search", "--versions", ours, "--sort", "-metrics.auc"],
        ["search", "--versions", f"{ours} AND tags.stage = prod", "--json"],
        ["search", "--versions", 'metrics.auc > "x"'],
        ["search", 'card_completeness > "x"'],
        ["search", "tags.a = ("],
    )
    text = ok(models_text).splitlines()
    assert text[0].split() == ["MODEL", "OWNER", "RISK", "LATEST", "DESCRIPTION"]
    assert [line.split()[:4] for line in text[1:]] == [
        [fraud, "team-risk", "high", "2"],
        [ranker, "team-ads", "minimal", "2"],
    ]
    assert [m["name"] for m in ok_json(high_risk)] == [fraud]
    assert ok(free_text).splitlines()[1].split()[0] == fraud
    assert len(ok(free_text).splitlines()) == 2
    assert [m["name"] for m in ok_json(free_text_json)] == [fraud]
    # Descending by the metric; a version without it comes last.
    assert [(v["model"], v["number"], v["metrics"].get("auc")) for v in ok_json(by_auc)] == [
        (ranker, 2, 0.9),
        (fraud, 1, 0.8),
        (ranker, 1, 0.7),
        (fraud, 2, None),
    ]
    rows = ok(by_auc_text).splitlines()
    assert rows[0].split()[:3] == ["VERSION", "FORMAT", "METRICS"]
    assert [row.split()[0] for row in rows[1:]] == [
        f"{ranker}:2",
        f"{fraud}:1",
        f"{ranker}:1",
        f"{fraud}:2",
    ]
    assert "auc=0.9" in rows[1]
    assert [(v["model"], v["number"]) for v in ok_json(tagged)] == [(ranker, 2)]
    assert "'x'" in one_line_error(type_mismatch, "QUERY_TYPE_MISMATCH")
    one_line_error(model_type_mismatch, "QUERY_TYPE_MISMATCH")
    assert "position" in one_line_error(syntax, "QUERY_SYNTAX")
    for failed in (type_mismatch, model_type_mismatch, syntax):
        assert failed.stdout == ""


def test_dataset_list_usage_and_impact(cli: Cli, md: Client, tmp_path: Path) -> None:
    namespace = unique_name("data").split("/")[0]
    name = f"{namespace}/model"
    prefix = f"s3://{namespace}/"
    train, holdout = f"{prefix}train", f"{prefix}holdout"
    old, new = sha256(os.urandom(16)), sha256(os.urandom(16))
    push(
        md,
        tmp_path / "m",
        name,
        datasets=[
            {"uri": train, "digest": old, "role": "train", "name": "clicks", "personal_data": True},
            {"uri": holdout, "role": "test"},
        ],
    )
    push(md, tmp_path / "m", name, datasets=[{"uri": train, "digest": new, "role": "train"}])
    md.set_alias(name, "prod", 1)

    (
        listed,
        listed_text,
        personal,
        usage,
        usage_text,
        impact,
        impact_text,
        no_impact,
    ) = cli.many(
        ["dataset", "list", "--uri-prefix", prefix, "--json"],
        ["dataset", "list", "--uri-prefix", prefix],
        ["datasets", "list", "--uri-prefix", prefix, "--personal", "--json"],
        ["dataset", "usage", train, "--json"],
        ["dataset", "usage", train, "--digest", old],
        ["dataset", "impact", train, "--json"],
        ["dataset", "impact", train],
        ["dataset", "impact", train, "--digest", new],
    )
    assert sorted(
        (d["uri"], d["digest"], d["name"], d["personal_data"]) for d in ok_json(listed)
    ) == sorted(
        [
            (holdout, "", "", False),
            (train, new, "", False),
            (train, old, "clicks", True),
        ]
    )
    rows = ok(listed_text).splitlines()
    assert rows[0].split() == ["ID", "URI", "DIGEST", "NAME", "PERSONAL"]
    assert len(rows) == 4
    assert any(train in row and "clicks" in row and row.rstrip().endswith("yes") for row in rows)
    assert [(d["uri"], d["digest"]) for d in ok_json(personal)] == [(train, old)]

    assert sorted((u["model"], u["number"], u["role"], u["digest"]) for u in ok_json(usage)) == [
        (name, 1, "train", old),
        (name, 2, "train", new),
    ]
    rows = ok(usage_text).splitlines()
    assert rows[0].split() == ["VERSION", "ROLE", "DIGEST"]
    assert [row.split() for row in rows[1:]] == [[f"{name}:1", "train", old[:19]]]

    assert [(i["model"], i["alias"], i["number"], i["digest"]) for i in ok_json(impact)] == [
        (name, "prod", 1, old)
    ]
    rows = ok(impact_text).splitlines()
    assert rows[0].split() == ["ALIAS", "VERSION", "ROLE", "DIGEST"]
    assert rows[1].split() == [f"{name}@prod", f"{name}:1", "train", old[:19]]
    assert ok(no_impact).strip() == f"no alias points at a version that used {train}"


def test_inventory_as_table_json_and_csv(cli: Cli, md: Client, tmp_path: Path) -> None:
    namespace = unique_name("inventory").split("/")[0]
    base, rec = f"{namespace}/base", f"{namespace}/rec"
    personal = f"s3://{namespace}/users"
    push(md, tmp_path / "b", base)
    md.create_model(
        rec, owner="team-ads", contacts=["a@example.com", "#ads"], risk_level="high",
        risk_reason="profiling",
    )  # fmt: skip
    push(
        md,
        tmp_path / "r",
        rec,
        derived_from=[f"{base}:1"],
        datasets=[{"uri": personal, "role": "train", "personal_data": True}],
    )
    md.set_alias(rec, "prod", 1)
    md.pull(f"{rec}@prod", tmp_path / "pulled")

    written, as_json, table, to_stdout = cli.many(
        ["inventory", "--prefix", f"{namespace}/", "--format", "csv", "-o", "inventory.csv"],
        ["inventory", "--prefix", f"{namespace}/", "--format", "json"],
        ["inventory", "--prefix", f"{namespace}/"],
        ["inventory", "--prefix", f"{namespace}/", "--format", "csv"],
    )
    assert ok(written).strip() == "wrote inventory.csv"
    with open(tmp_path / "inventory.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == CSV_COLUMNS
        rows = {row["name"]: row for row in reader}
    assert list(rows) == [base, rec]
    row = rows[rec]
    assert (row["owner"], row["risk_level"], row["risk_reason"]) == (
        "team-ads",
        "high",
        "profiling",
    )
    assert (row["aliases"], row["latest_version"], row["version_count"]) == ("prod=1", "1", "1")
    assert (row["personal_data"], row["derived_from"]) == (personal, base)
    assert "a@example.com" in row["contacts"] and "1:" in row["pulls"]
    assert ok(to_stdout) == (tmp_path / "inventory.csv").read_text(encoding="utf-8")

    inventory = ok_json(as_json)
    assert "generated_at" in inventory
    entries = {e["name"]: e for e in inventory["models"]}
    assert list(entries) == [base, rec]
    entry = entries[rec]
    assert (entry["owner"], entry["contacts"], entry["risk_level"]) == (
        "team-ads",
        ["a@example.com", "#ads"],
        "high",
    )
    assert (entry["aliases"], entry["personal_data"], entry["derived_from"]) == (
        {"prod": 1},
        [personal],
        [base],
    )
    assert [(p["number"], p["count"]) for p in entry["pulls"]] == [(1, 1)]

    lines = ok(table).splitlines()
    assert lines[0].split()[:4] == ["MODEL", "OWNER", "RISK", "ALIASES"]
    rec_line = next(line for line in lines if line.startswith(rec))
    assert rec_line.split()[:5] == [rec, "team-ads", "high", "prod=1", "1"]


def test_verify_exits_1_when_the_output_does_not_match(
    cli: Cli, md: Client, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    namespace = unique_name("verify").split("/")[0]
    good, bad = f"{namespace}/good", f"{namespace}/bad"
    x = [[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]]
    model = LogisticRegression().fit(x, [0, 1, 0, 1])
    md.push_model(model, good, input_example=x)
    recorded = md.get_lineage(f"{good}:1")
    assert recorded.output_example == [0, 1, 0, 1]
    # The same skops file, published with an output it does not give.
    md.pull(f"{good}:1", tmp_path / "skops")
    lineage = recorded.model_dump(include={"format", "signature", "input_example"})
    md.push(
        tmp_path / "skops",
        bad,
        lineage={**lineage, "output_example": [1, 1, 0, 1]},
        capture=False,
    )

    # Each verify imports scikit-learn (seconds): one run in text, one in JSON.
    matches, differs_json = cli.many(["verify", f"{good}:1"], ["verify", bad, "--json"])
    text = ok(matches).splitlines()
    assert text[0].startswith(f"{good}:1: output matches the recorded output")
    assert text[1] == "  environment: the same packages as recorded"

    assert differs_json.returncode == 1, differs_json.stderr
    report = json.loads(differs_json.stdout)
    assert (report["ref"], report["matches"], report["max_abs_diff"]) == (f"{bad}:1", False, 1.0)
    assert "1 of 4" in report["detail"]
    # No environment was recorded for this version: there is nothing to compare with.
    assert (report["environment_recorded"], report["packages"]) == (False, [])


def test_every_new_read_command_prints_json(cli: Cli, md: Client, tmp_path: Path) -> None:
    namespace = unique_name("json").split("/")[0]
    name = f"{namespace}/model"
    uri = f"s3://{namespace}/train"
    push(md, tmp_path / "m", name, datasets=[{"uri": uri, "role": "train"}], metrics={"auc": 0.5})
    unique_files(tmp_path / "m")
    md.push(tmp_path / "m", name, lineage={"environment": {"packages": {"numpy": "2.0.0"}}})
    md.set_alias(name, "prod", 1)
    md.set_card(name, "# card\n\n## Intended use\n\nTests.\n")
    at = md.alias_history(name, "prod")[0].at.isoformat()

    results = cli.many(
        ["version", "lineage", f"{name}:1", "--json"],
        ["version", "show", f"{name}@prod", "--at", at, "--json"],
        ["version", "diff", f"{name}:1", f"{name}:2", "--json"],
        ["version", "graph", f"{name}:1", "--json"],
        ["models", "card", "show", name, "--json"],
        ["search", f'name = "{name}"', "--json"],
        ["search", "--versions", f'name = "{name}"', "--json"],
        ["dataset", "list", "--uri-prefix", uri, "--json"],
        ["dataset", "usage", uri, "--json"],
        ["dataset", "impact", uri, "--json"],
        ["inventory", "--prefix", name, "--format", "json"],
        ["version", "env", f"{name}:2", "--json"],
    )
    (
        lineage,
        shown,
        diff,
        graph,
        card,
        models,
        versions,
        datasets,
        usage,
        impact,
        inventory,
        env,
    ) = results
    assert ok_json(lineage)["datasets"][0]["uri"] == uri
    assert ok_json(shown)["number"] == 1
    assert ok_json(diff)["metrics"] == [{"key": "auc", "a": 0.5, "b": None}]
    assert ok_json(graph)["root"] == f"version:{name}:1"
    assert ok_json(card)["missing"] == list(ALL_SECTIONS[1:])
    assert [m["name"] for m in ok_json(models)] == [name]
    assert [v["number"] for v in ok_json(versions)] == [2, 1]
    assert [d["uri"] for d in ok_json(datasets)] == [uri]
    assert [u["number"] for u in ok_json(usage)] == [1]
    assert [i["alias"] for i in ok_json(impact)] == ["prod"]
    assert [m["name"] for m in ok_json(inventory)["models"]] == [name]
    # `version env` is a read command too (README: every read command takes --json).
    assert "numpy" in json.dumps(ok_json(env))
