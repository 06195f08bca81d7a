"""Protection rules: per model and per prefix, who may add and remove them, and how
they show in the API, the SDK and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from modeldepot.cli.main import cli
from modeldepot.errors import AliasProtected, InvalidInput, ProtectionNotFound
from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url, push
from tests.conftest import make_model_dir

RULES = f"{API}/protections"
DEFAULTS = [("prefix", "", "production"), ("prefix", "", "staging")]


def rules(api, **params: str) -> list[tuple[str, str, str]]:
    body = assert_json(api.get(RULES, params=params), 200)
    return [(r["kind"], r["scope"], r["alias"]) for r in body]


def move(api, name: str, alias: str, number: int, **kwargs: Any) -> Any:
    return api.put(model_url(name, "aliases", alias), json={"version": number}, **kwargs)


@pytest.fixture
def three_models(api) -> None:
    for name in ("ads/rec", "ads/rank", "ml/churn"):
        push(api, name, {"w.bin": b"one"})
        push(api, name, {"w.bin": b"two"})


def test_staging_and_production_of_every_model_are_protected_by_default(api) -> None:
    assert rules(api) == DEFAULTS
    assert rules(api, model="any/model") == DEFAULTS


@pytest.mark.usefixtures("three_models")
def test_a_model_rule_protects_that_models_alias_only(api) -> None:
    rule = {"kind": "model", "scope": "ads/rec", "alias": "gate"}
    made = assert_json(api.post(RULES, json=rule), 201)
    assert (made["created_by"], made["alias"]) == ("admin", "gate")
    assert_json(api.post(RULES, json=rule), 201)  # again: a no-op
    assert_problem(move(api, "ads/rec", "gate", 1), 403, "ALIAS_PROTECTED")
    assert_json(move(api, "ads/rank", "gate", 1), 200)
    assert rules(api, model="ads/rec") == [("model", "ads/rec", "gate"), *DEFAULTS]
    assert rules(api, model="ads/rank") == DEFAULTS


@pytest.mark.usefixtures("three_models")
def test_a_prefix_rule_protects_the_alias_of_every_model_under_it(api) -> None:
    rule = {"kind": "prefix", "scope": "ads/", "alias": "gate"}
    assert assert_json(api.post(RULES, json=rule), 201)["scope"] == "ads"
    for name in ("ads/rec", "ads/rank"):
        assert_problem(move(api, name, "gate", 1), 403, "ALIAS_PROTECTED")
    assert_json(move(api, "ml/churn", "gate", 1), 200)
    assert rules(api, model="ads/rec") == [*DEFAULTS, ("prefix", "ads", "gate")]


@pytest.mark.usefixtures("three_models")
def test_removing_the_default_rule_lets_the_alias_move(api) -> None:
    assert_problem(move(api, "ads/rec", "production", 2), 403, "ALIAS_PROTECTED")
    gone = api.delete(RULES, params={"kind": "prefix", "scope": "/", "alias": "production"})
    assert gone.status_code == 204, gone.text
    moved = assert_json(move(api, "ads/rec", "production", 2), 200)
    assert (moved["version"], moved["protected"]) == (2, False)
    assert rules(api) == [("prefix", "", "staging")]
    missing = api.delete(RULES, params={"kind": "prefix", "scope": "", "alias": "production"})
    assert_problem(missing, 404, "PROTECTION_NOT_FOUND")


@pytest.mark.usefixtures("three_models")
def test_a_maintainer_protects_its_models_alias_but_removes_no_rule(api) -> None:
    mia = as_user(api, "mia", "maintainer", "ads/")
    mine = {"kind": "model", "scope": "ads/rec", "alias": "gate"}
    assert_json(api.post(RULES, json=mine, headers=mia), 201)
    assert_problem(move(api, "ads/rec", "gate", 1, headers=mia), 403, "ALIAS_PROTECTED")
    assert_problem(api.delete(RULES, params=mine, headers=mia), 403, "FORBIDDEN")
    prefix = {"kind": "prefix", "scope": "ads", "alias": "gate"}
    assert_problem(api.post(RULES, json=prefix, headers=mia), 403, "FORBIDDEN")
    elsewhere = {"kind": "model", "scope": "ml/churn", "alias": "gate"}
    assert_problem(api.post(RULES, json=elsewhere, headers=mia), 404, "MODEL_NOT_FOUND")
    carl = as_user(api, "carl", "contributor", "ads/")
    assert_problem(api.post(RULES, json=mine | {"alias": "x"}, headers=carl), 403, "FORBIDDEN")
    # An admin of the namespace removes the rule; the alias moves again.
    ada = as_user(api, "ada", "admin", "ads/")
    assert api.delete(RULES, params=mine, headers=ada).status_code == 204
    assert_json(move(api, "ads/rec", "gate", 1, headers=mia), 200)


@pytest.mark.usefixtures("three_models")
def test_rule_changes_are_audited(api) -> None:
    rule = {"kind": "model", "scope": "ads/rec", "alias": "gate"}
    api.post(RULES, json=rule)
    api.delete(RULES, params=rule)
    records = assert_json(api.get(f"{API}/audit", params={"action": "protection.*"}), 200)
    found = [(r["action"], r["target"], r["model"]) for r in records["items"]]
    assert found == [
        ("protection.remove", "ads/rec@gate", "ads/rec"),
        ("protection.add", "ads/rec@gate", "ads/rec"),
    ]


@pytest.mark.usefixtures("three_models")
def test_aliases_say_whether_they_are_protected(api, registry) -> None:
    api.delete(RULES, params={"kind": "prefix", "scope": "", "alias": "staging"})
    for alias in ("staging", "canary"):
        assert_json(move(api, "ads/rec", alias, 1), 200)
    api.post(RULES, json={"kind": "prefix", "scope": "", "alias": "staging"})
    listed = assert_json(api.get(model_url("ads/rec", "aliases")), 200)["items"]
    assert [(a["name"], a["protected"]) for a in listed] == [("canary", False), ("staging", True)]
    one = assert_json(api.get(model_url("ads/rec", "aliases", "staging")), 200)
    assert one["protected"] is True
    # Setting it where it is already moves nothing: answered, not refused.
    again = assert_json(move(api, "ads/rec", "staging", 1), 200)
    assert (again["version"], again["protected"]) == (1, True)
    assert_problem(move(api, "ads/rec", "staging", 2), 403, "ALIAS_PROTECTED")
    assert assert_json(move(api, "ads/rec", "canary", 2), 200)["protected"] is False


def test_malformed_rules_are_refused(api) -> None:
    bad_kind = {"kind": "global", "scope": "", "alias": "gate"}
    assert_problem(api.post(RULES, json=bad_kind), 422, "INVALID_INPUT")
    bad_alias = {"kind": "model", "scope": "ads/rec", "alias": "Not Valid"}
    assert_problem(api.post(RULES, json=bad_alias), 400, "ALIAS_INVALID")
    bad_name = {"kind": "model", "scope": "Ads/Rec", "alias": "gate"}
    assert_problem(api.post(RULES, json=bad_name), 400, "NAME_INVALID")


def test_the_sdk_lists_adds_and_removes_rules(client, tmp_path) -> None:
    client.push(make_model_dir(tmp_path / "m", {"w": b"1"}), "ads/rec")
    made = client.protect("ads/rec", alias="gate")
    assert (made.kind, made.scope, made.alias) == ("model", "ads/rec", "gate")
    client.protect(prefix="ml/", alias="gate")
    assert [(r.kind, r.scope, r.alias) for r in client.protections("ads/rec")] == [
        ("model", "ads/rec", "gate"),
        *DEFAULTS,
    ]
    with pytest.raises(AliasProtected):
        client.set_alias("ads/rec", "gate", 1)
    client.unprotect("ads/rec", alias="gate")
    client.unprotect(prefix="ml", alias="gate")
    assert client.set_alias("ads/rec", "gate", 1).protected is False
    assert [(r.kind, r.scope, r.alias) for r in client.protections()] == DEFAULTS
    with pytest.raises(ProtectionNotFound):
        client.unprotect("ads/rec", alias="gate")
    with pytest.raises(InvalidInput):  # a model and a prefix: which?
        client.protect("ads/rec", prefix="ads", alias="gate")


def run(live, token: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--url", live.url, *args], env={"MODELDEPOT_TOKEN": token})


def test_the_cli_protects_lists_and_unprotects(api, live, registry, tmp_path) -> None:
    push(api, "ads/rec", {"w.bin": b"one"})
    token = api.headers["Authorization"].removeprefix("Bearer ")
    said = [
        run(live, token, "alias", "protect", "ads/rec", "gate"),
        run(live, token, "alias", "protect", "--prefix", "ml/", "gate"),
        run(live, token, "alias", "protections", "ads/rec"),
        run(live, token, "alias", "protections", "--json"),
        run(live, token, "alias", "set", "ads/rec", "gate", "1"),
        run(live, token, "alias", "unprotect", "ads/rec", "gate"),
        run(live, token, "alias", "unprotect", "--prefix", "/ml", "gate"),
        run(live, token, "alias", "unprotect", "--prefix", "/ml", "gate"),
        run(live, token, "alias", "protect", "--prefix", "ml", "gate", "extra"),
    ]
    assert [r.exit_code for r in said] == [0, 0, 0, 0, 1, 0, 0, 1, 2]
    assert said[0].stdout == "protected ads/rec@gate\n"
    assert said[1].stdout == "protected gate of every model under ml/\n"
    table = [line.split()[:3] for line in said[2].stdout.splitlines()]
    assert table == [
        ["ALIAS", "KIND", "SCOPE"],
        ["gate", "model", "ads/rec"],
        ["production", "prefix", "/"],
        ["staging", "prefix", "/"],
    ]
    assert len(json.loads(said[3].stdout)) == 4
    assert said[4].stderr.startswith("modeldepot: error: ALIAS_PROTECTED: ads/rec@gate")
    assert said[5].stdout == "unprotected ads/rec@gate\n"
    assert said[6].stdout == "unprotected gate of every model under ml/\n"
    assert said[7].stderr.startswith("modeldepot: error: PROTECTION_NOT_FOUND: ")
    assert "with --prefix, give only ALIAS" in said[8].stderr
