"""Discovery through the SDK over HTTP: search, time travel, requirements, diff, the
lineage graph, datasets, pulls and the inventory, and model cards."""

from __future__ import annotations

import csv
import io
import time
from importlib import metadata
from pathlib import Path

import pytest

from modeldepot.client.client import Client
from modeldepot.errors import QueryFieldUnknown, QueryInvalid
from modeldepot.registry import Registry
from modeldepot.registry.inventory import INVENTORY_CSV_COLUMNS
from modeldepot.schemas.compare import DatasetChange, FileChange, GraphEdge, ValueChange
from modeldepot.schemas.datasets import AliasImpact
from modeldepot.security.context import Context
from modeldepot.security.roles import Role
from tests.conftest import make_model_dir

TRAIN = {"uri": "s3://data/clicks", "digest": "sha256:c1", "role": "train", "name": "clicks"}
PEOPLE = {"uri": "s3://data/people", "role": "validation", "personal_data": True}
CARD = """---
license: mit
---
# Recommender
## Intended use
Ranking ads on the home page.
## Limitations
Cold start for new users.
"""
FULL_CARD = "\n".join(
    f"## {title}\nReal text about {title.lower()}.\n"
    for title in (
        "Intended use",
        "Out-of-scope use",
        "Training data",
        "Evaluation",
        "Limitations",
        "Ethical considerations",
    )
)


def push(client, tmp_path: Path, name: str, content: bytes = b"w", **kwargs):
    """Push one small file as the next version of ``name`` (no capture unless asked)."""
    kwargs.setdefault("capture", False)
    folder = tmp_path / f"src-{name.replace('/', '-')}-{time.monotonic_ns()}"
    return client.push(make_model_dir(folder, {"w.bin": content}), name, **kwargs)


# --- search -----------------------------------------------------------------------------


@pytest.fixture
def three_models(client) -> None:
    client.create_model("ads/ctr", description="click through rate", tags={"team": "ads"})
    client.create_model(
        "ads/fraud", description="fraud detection", tags={"team": "ads"}, risk_level="high"
    )
    client.create_model("ml/churn", description="churn", tags={"team": "ml"}, owner="alice")


def test_search_models_filters_sorts_and_limits(client, three_models) -> None:
    found = client.search_models("tags.team = ads", sort="-name")
    assert [m.name for m in found] == ["ads/fraud", "ads/ctr"]
    assert [m.name for m in client.search_models("", limit=2)] == ["ads/ctr", "ads/fraud"]
    assert [m.name for m in client.search_models("risk >= high OR owner = alice")] == [
        "ads/fraud",
        "ml/churn",
    ]
    assert [m.name for m in client.search_models("NOT owner EXISTS")] == ["ads/ctr", "ads/fraud"]


def test_search_models_by_free_text_matches_stemmed_words(client, three_models) -> None:
    assert [m.name for m in client.search_models('"detecting fraud"')] == ["ads/fraud"]
    assert client.search_models('"fraud" AND tags.team = ml') == []


def test_search_models_leaves_out_deleted_ones_unless_asked(client, three_models) -> None:
    client.delete_model("ads/ctr")
    assert [m.name for m in client.search_models("tags.team = ads")] == ["ads/fraud"]
    assert [m.name for m in client.search_models("tags.team = ads", include_deleted=True)] == [
        "ads/ctr",
        "ads/fraud",
    ]


def test_search_versions_filters_on_metrics_params_and_datasets(client, tmp_path: Path) -> None:
    push(client, tmp_path, "a/m", metrics={"auc": 0.8}, params={"opt": {"lr": 0.1}})
    push(client, tmp_path, "a/m", metrics={"auc": 0.95}, params={"opt": {"lr": 0.01}})
    push(client, tmp_path, "b/m", metrics={"auc": 0.91}, datasets=[TRAIN], tags={"k": "v"})
    found = client.search_versions("metrics.auc > 0.9", sort="-metrics.auc")
    assert [v.ref for v in found] == ["a/m:2", "b/m:1"]
    assert [v.ref for v in client.search_versions("params.opt.lr <= 0.05")] == ["a/m:2"]
    assert [v.ref for v in client.search_versions('dataset = "s3://data/clicks"')] == ["b/m:1"]
    top = client.search_versions("", sort="metrics.auc", limit=1)
    assert [v.ref for v in top] == ["a/m:1"]
    assert [v.ref for v in client.search_versions("name = a/m AND number IN (1, 2)")] == [
        "a/m:2",
        "a/m:1",
    ]


def test_search_versions_by_free_text_finds_descriptions_and_datasets(
    client, tmp_path: Path
) -> None:
    push(client, tmp_path, "a/m", description="retrained after the holidays")
    push(client, tmp_path, "b/m", datasets=[TRAIN])
    assert [v.ref for v in client.search_versions('"holiday"')] == ["a/m:1"]
    assert [v.ref for v in client.search_versions('"clicks"')] == ["b/m:1"]


def test_malformed_queries_raise_query_errors(client) -> None:
    with pytest.raises(QueryInvalid):
        client.search_versions("metrics.auc >")
    with pytest.raises(QueryFieldUnknown):
        client.search_models("metric.auc > 1")


# --- time travel, requirements, diff, graph ---------------------------------------------


def test_resolve_at_follows_an_alias_moved_twice(client, tmp_path: Path) -> None:
    for content in (b"1", b"2", b"3"):
        push(client, tmp_path, "a/m", content)
    for number in (1, 2, 3):
        client.set_alias("a/m", "prod", number)
        time.sleep(0.002)  # distinct server instants for the three moves
    history = client.alias_history("a/m", "prod")
    assert [e.to_version for e in history] == [3, 2, 1]
    for event in history:
        assert client.resolve_at("a/m@prod", event.at).number == event.to_version
        assert client.resolve_at("a/m@prod", event.at.isoformat()).number == event.to_version
    assert client.get_version("a/m@prod").number == 3


def test_requirements_pin_the_recorded_packages(client, tmp_path: Path) -> None:
    environment = {
        "python": "3.11.7",
        "implementation": "CPython",
        "packages": {"NumPy": "1.26.4", "scikit_learn": "1.4.0"},
        "container_image": "ghcr.io/acme/train:1",
    }
    push(client, tmp_path, "a/m", lineage={"environment": environment})
    lines = client.requirements("a/m:1").splitlines()
    assert "# Python: CPython 3.11.7" in lines
    assert "# Container image: ghcr.io/acme/train:1" in lines
    assert [line for line in lines if not line.startswith("#")] == [
        "numpy==1.26.4",
        "scikit-learn==1.4.0",
    ]


def test_requirements_of_a_captured_push_pin_this_environment(client, tmp_path: Path) -> None:
    push(client, tmp_path, "a/m", capture=True)
    assert f"httpx=={metadata.version('httpx')}" in client.requirements("a/m").splitlines()


def test_requirements_without_an_environment_is_a_comment(client, tmp_path: Path) -> None:
    push(client, tmp_path, "a/m")
    assert client.requirements("a/m:1") == "# no environment was captured for this version\n"


def test_diff_lists_what_changed_between_two_versions(client, tmp_path: Path) -> None:
    v1 = push(
        client,
        tmp_path,
        "a/m",
        b"one",
        params={"lr": 0.1, "opt": {"name": "adam"}},
        metrics={"auc": 0.8},
        tags={"stage": "dev"},
        datasets=[TRAIN],
        lineage={"environment": {"packages": {"numpy": "1.0"}}},
    )
    v2 = push(
        client,
        tmp_path,
        "a/m",
        b"two",
        params={"lr": 0.1, "opt": {"name": "sgd"}},
        metrics={"auc": 0.9},
        tags={"stage": "dev"},
        lineage={"environment": {"packages": {"numpy": "2.0"}}, "format": {"name": "other"}},
    )
    diff = client.diff("a/m:1", "a/m@" + v2.digest)
    assert (diff.a, diff.b, diff.same_content) == ("a/m:1", "a/m:2", False)
    assert diff.params == [ValueChange(key="opt.name", a="adam", b="sgd")]
    assert diff.metrics == [ValueChange(key="auc", a=0.8, b=0.9)]
    assert diff.tags == []
    assert diff.datasets == [
        DatasetChange(change="removed", uri=TRAIN["uri"], digest=TRAIN["digest"], role="train")
    ]
    assert diff.packages == [ValueChange(key="numpy", a="1.0", b="2.0")]
    assert diff.format == [ValueChange(key="name", a=None, b="other")]
    (changed,) = diff.files
    assert changed == FileChange(
        path="w.bin",
        change="changed",
        a_digest=client.get_manifest(v1.ref).files[0].digest,
        b_digest=client.get_manifest(v2.ref).files[0].digest,
        a_size=3,
        b_size=3,
    )


def test_diff_of_a_version_with_itself_is_empty(client, tmp_path: Path) -> None:
    push(client, tmp_path, "a/m", params={"lr": 1}, metrics={"auc": 0.5})
    diff = client.diff("a/m", "a/m:1")
    assert diff.same_content is True
    assert diff.params == diff.metrics == diff.files == diff.packages == []


def test_lineage_graph_links_versions_datasets_and_code(client, tmp_path: Path) -> None:
    push(client, tmp_path, "a/base", datasets=[TRAIN])
    code = {"repository": "https://git.example.com/acme/ml.git", "commit": "abc123"}
    push(client, tmp_path, "a/child", derived_from=["a/base:1"], lineage={"code": code})
    push(client, tmp_path, "a/app", depends_on=["a/child:1"])
    graph = client.lineage_graph("a/child", depth=1)
    assert graph.root == "version:a/child:1"
    dataset_id = client.list_datasets()[0].id
    code_key = "code:https://git.example.com/acme/ml.git@abc123"
    assert {n.id: n.kind for n in graph.nodes} == {
        "version:a/child:1": "version",
        "version:a/base:1": "version",
        "version:a/app:1": "version",
        f"dataset:{dataset_id}": "dataset",
        code_key: "code",
    }
    assert sorted(graph.edges, key=lambda e: (e.source, e.target)) == [
        GraphEdge(source="version:a/app:1", target="version:a/child:1", kind="depends_on"),
        GraphEdge(source="version:a/base:1", target=f"dataset:{dataset_id}", kind="uses:train"),
        GraphEdge(source="version:a/child:1", target=code_key, kind="built_from"),
        GraphEdge(source="version:a/child:1", target="version:a/base:1", kind="derived_from"),
    ]


# --- datasets ---------------------------------------------------------------------------


def test_datasets_are_listed_with_their_use_and_the_aliases_they_reach(
    client, tmp_path: Path
) -> None:
    push(client, tmp_path, "a/m", datasets=[TRAIN, PEOPLE])
    push(client, tmp_path, "b/m", datasets=[{**TRAIN, "role": "test"}])
    push(client, tmp_path, "b/m", datasets=[{**TRAIN, "digest": "sha256:c2"}])
    client.set_alias("a/m", "prod", 1)
    client.set_alias("b/m", "prod", 2)
    listed = client.list_datasets()
    assert [(d.uri, d.digest) for d in listed] == [
        ("s3://data/clicks", "sha256:c1"),
        ("s3://data/people", ""),
        ("s3://data/clicks", "sha256:c2"),
    ]
    assert [d.uri for d in client.list_datasets(personal_data=True)] == ["s3://data/people"]
    assert [d.digest for d in client.list_datasets(uri_prefix="s3://data/cl")] == [
        "sha256:c1",
        "sha256:c2",
    ]
    usage = client.dataset_usage("s3://data/clicks")
    assert sorted((u.model, u.number, u.role, u.digest) for u in usage) == [
        ("a/m", 1, "train", "sha256:c1"),
        ("b/m", 1, "test", "sha256:c1"),
        ("b/m", 2, "train", "sha256:c2"),
    ]
    only_c2 = client.dataset_usage("s3://data/clicks", "sha256:c2")
    assert [(u.model, u.number) for u in only_c2] == [("b/m", 2)]
    impact = client.dataset_impact("s3://data/clicks", "sha256:c1")
    assert impact == [
        AliasImpact(model="a/m", alias="prod", number=1, role="train", digest="sha256:c1")
    ]
    assert [(i.model, i.digest) for i in client.dataset_impact("s3://data/clicks")] == [
        ("a/m", "sha256:c1"),
        ("b/m", "sha256:c2"),
    ]


# --- pulls and the inventory ------------------------------------------------------------


def reader_token(registry: Registry, name: str) -> str:
    """A token of a new user ``name``, reader on the whole registry."""
    ctx = Context.system("tests")
    registry.identity.create_principal(ctx, name)
    registry.identity.grant(ctx, name, "/", Role.READER)
    return registry.identity.create_token(ctx, "tests", owner=name).text


def test_pulls_are_counted_per_version_and_actor(client, live, registry, tmp_path: Path) -> None:
    push(client, tmp_path, "a/m", b"1")
    push(client, tmp_path, "a/m", b"2")
    client.pull("a/m:1", tmp_path / "one")
    client.pull("a/m:1", tmp_path / "two")
    token = reader_token(registry, "bob")
    with Client(live.url, cache_dir=tmp_path / "bob-cache", token=token) as bob:
        bob.pull("a/m:1", tmp_path / "three")
        bob.pull("a/m@" + client.get_version("a/m:2").digest, tmp_path / "four")
    (entry,) = client.inventory().models
    assert [(p.number, p.count, p.by) for p in entry.pulls] == [
        (2, 1, {"bob": 1}),
        (1, 3, {"admin": 2, "bob": 1}),
    ]


def test_inventory_describes_each_model(client, tmp_path: Path) -> None:
    client.create_model(
        "a/app", owner="team-ads", contacts=["ads@example.com"], risk_level="limited"
    )
    push(client, tmp_path, "a/base", datasets=[PEOPLE])
    push(client, tmp_path, "a/app", depends_on=["a/base:1"])
    client.set_alias("a/app", "prod", 1)
    client.set_card("a/app", CARD)
    inventory = client.inventory()
    assert [e.name for e in inventory.models] == ["a/app", "a/base"]
    app, base = inventory.models
    assert (app.owner, app.contacts, app.risk_level) == (
        "team-ads",
        ["ads@example.com"],
        "limited",
    )
    assert (app.aliases, app.latest_version, app.version_count) == ({"prod": 1}, 1, 1)
    assert (app.depends_on, app.card_completeness) == (["a/base"], 0.33)
    assert base.personal_data == ["s3://data/people"]
    assert [e.name for e in client.inventory(prefix="a/b").models] == ["a/base"]


def test_inventory_csv_has_a_header_and_one_row_per_model(client, tmp_path: Path) -> None:
    client.create_model("a/app", owner="team, ads", contacts=["x@example.com", "y@example.com"])
    push(client, tmp_path, "a/app", datasets=[PEOPLE])
    client.set_alias("a/app", "prod", 1)
    client.pull("a/app", tmp_path / "out")
    client.create_model("b/other")
    rows = list(csv.reader(io.StringIO(client.inventory_csv())))
    assert rows[0] == list(INVENTORY_CSV_COLUMNS)
    assert [row[0] for row in rows[1:]] == ["a/app", "b/other"]
    app = dict(zip(rows[0], rows[1], strict=True))
    assert app["owner"] == "team, ads"
    assert app["contacts"] == "x@example.com;y@example.com"
    assert (app["aliases"], app["latest_version"], app["version_count"]) == ("prod=1", "1", "1")
    assert (app["personal_data"], app["pulls"]) == ("s3://data/people", "1:admin=1")
    only = list(csv.reader(io.StringIO(client.inventory_csv(prefix="b/"))))
    assert [row[0] for row in only] == ["name", "b/other"]


# --- cards ------------------------------------------------------------------------------


def test_model_without_a_card_lacks_every_section(client) -> None:
    client.create_model("a/m")
    card = client.get_card("a/m")
    assert (card.card, card.completeness) == (None, None)
    assert len(card.missing) == 6


def test_card_set_from_a_file_reports_completeness_missing_and_front_matter(
    client, tmp_path: Path
) -> None:
    client.create_model("a/m")
    path = tmp_path / "README.md"
    path.write_text(CARD, encoding="utf-8")
    written = client.set_card("a/m", path)
    assert written.card == CARD
    assert written.completeness == 0.33
    assert written.missing == [
        "out_of_scope_use",
        "training_data",
        "evaluation",
        "ethical_considerations",
    ]
    assert written.front_matter == {"license": "mit"}
    assert client.get_card("a/m") == written
    assert client.get_model("a/m").card_completeness == 0.33


def test_card_set_from_text_replaces_it_and_delete_removes_it(client) -> None:
    client.create_model("a/m")
    client.set_card("a/m", CARD)
    full = client.set_card("a/m", FULL_CARD)
    assert (full.card, full.completeness, full.missing) == (FULL_CARD, 1.0, [])
    assert [m.name for m in client.search_models("card_completeness >= 1")] == ["a/m"]
    deleted = client.delete_card("a/m")
    assert (deleted.card, deleted.completeness) == (None, None)
    assert client.get_card("a/m").card is None
    assert client.get_model("a/m").card_completeness is None


def test_version_card_given_at_push_is_separate_from_the_models(client, tmp_path: Path) -> None:
    path = tmp_path / "card.md"
    path.write_text(CARD, encoding="utf-8")
    from_file = push(client, tmp_path, "a/m", b"1", card=path)
    from_text = push(client, tmp_path, "a/m", b"2", card=FULL_CARD)
    assert (from_file.card_completeness, from_text.card_completeness) == (0.33, 1.0)
    first = client.get_version_card("a/m:1")
    assert (first.card, first.completeness, first.front_matter) == (CARD, 0.33, {"license": "mit"})
    assert client.get_version_card("a/m").card == FULL_CARD
    assert client.get_card("a/m").card is None
    without = push(client, tmp_path, "a/m", b"3")
    assert client.get_version_card(without.ref).card is None
