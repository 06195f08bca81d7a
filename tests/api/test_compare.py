"""Comparing versions (``/diff``) and the lineage graph around one (``/lineage/graph``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import assert_json, assert_problem, digest_of, model_url, push
from tests.api.lineage_helpers import (
    SHA_A,
    SHA_B,
    add_relation,
    dataset,
    get,
    push_version,
    set_alias,
)

NAME = "ads/rec"
REPO = "https://git.example.com/ads/rec.git"
CLICKS = "s3://data/clicks"
VIEWS = "s3://data/views"


def diff(api, a: str, b: str) -> dict[str, Any]:
    return assert_json(get(api, "/diff", a=a, b=b), 200)  # type: ignore[no-any-return]


def changes(items: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    return [(c["key"], c["a"], c["b"]) for c in items]


@pytest.fixture
def two_versions(api) -> None:
    push(
        api,
        NAME,
        {"model.bin": b"w1", "config.json": b"{}", "old.txt": b"old"},
        params={"optimizer": {"name": "adam", "lr": 0.1}, "seed": 1, "layers": [64, 32]},
        metrics={"auc": 0.9, "loss": 0.3},
        tags={"team": "ads", "stage": "dev"},
        lineage={
            "datasets": [dataset(CLICKS, SHA_A, role="train"), dataset(VIEWS, role="test")],
            "environment": {"packages": {"numpy": "1.26.4", "torch": "2.1.0", "pandas": "2.0"}},
            "code": {"repository": REPO, "commit": "c1", "branch": "main"},
            "format": {"name": "sklearn"},
        },
    )
    push(
        api,
        NAME,
        {"model.bin": b"w22", "config.json": b"{}", "new.txt": b"new"},
        params={"optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3, "layers": [64]},
        metrics={"auc": 0.92, "loss": 0.3, "f1": 0.5},
        tags={"team": "ads", "owner": "bob"},
        lineage={
            "datasets": [dataset(CLICKS, SHA_B, role="train"), dataset(VIEWS, role="test")],
            "environment": {"packages": {"numpy": "1.26.4", "torch": "2.2.0", "scipy": "1.12"}},
            "code": {"repository": REPO, "commit": "c2", "branch": "main"},
            "format": {"name": "onnx"},
        },
    )


# --- /diff ----------------------------------------------------------------------------


@pytest.mark.usefixtures("two_versions")
def test_diff_reports_params_by_dotted_path(api) -> None:
    assert changes(diff(api, f"{NAME}:1", f"{NAME}:2")["params"]) == [
        ("epochs", None, 3),
        ("layers.1", 32, None),
        ("optimizer.lr", 0.1, 0.01),
        ("seed", 1, None),
    ]


@pytest.mark.usefixtures("two_versions")
def test_diff_reports_metrics_and_tags(api) -> None:
    found = diff(api, f"{NAME}:1", f"{NAME}:2")
    assert changes(found["metrics"]) == [("auc", 0.9, 0.92), ("f1", None, 0.5)]
    assert changes(found["tags"]) == [("owner", None, "bob"), ("stage", "dev", None)]


@pytest.mark.usefixtures("two_versions")
def test_diff_reports_datasets_removed_and_added(api) -> None:
    assert diff(api, f"{NAME}:1", f"{NAME}:2")["datasets"] == [
        {"change": "removed", "uri": CLICKS, "digest": SHA_A, "role": "train"},
        {"change": "added", "uri": CLICKS, "digest": SHA_B, "role": "train"},
    ]


@pytest.mark.usefixtures("two_versions")
def test_diff_reports_packages_changed_added_and_removed(api) -> None:
    assert changes(diff(api, f"{NAME}:1", f"{NAME}:2")["packages"]) == [
        ("pandas", "2.0", None),
        ("scipy", None, "1.12"),
        ("torch", "2.1.0", "2.2.0"),
    ]


@pytest.mark.usefixtures("two_versions")
def test_diff_reports_code_and_format(api) -> None:
    found = diff(api, f"{NAME}:1", f"{NAME}:2")
    assert changes(found["code"]) == [("commit", "c1", "c2")]
    assert changes(found["format"]) == [("name", "sklearn", "onnx")]


@pytest.mark.usefixtures("two_versions")
def test_diff_reports_files_added_removed_and_changed(api) -> None:
    found = diff(api, f"{NAME}:1", f"{NAME}:2")
    assert found["files"] == [
        {
            "path": "model.bin",
            "change": "changed",
            "a_digest": digest_of(b"w1"),
            "b_digest": digest_of(b"w22"),
            "a_size": 2,
            "b_size": 3,
        },
        {
            "path": "new.txt",
            "change": "added",
            "a_digest": None,
            "b_digest": digest_of(b"new"),
            "a_size": None,
            "b_size": 3,
        },
        {
            "path": "old.txt",
            "change": "removed",
            "a_digest": digest_of(b"old"),
            "b_digest": None,
            "a_size": 3,
            "b_size": None,
        },
    ]
    assert (found["a"], found["b"], found["same_content"]) == (f"{NAME}:1", f"{NAME}:2", False)


@pytest.mark.usefixtures("two_versions")
def test_diff_the_other_way_round_swaps_sides(api) -> None:
    forward = diff(api, f"{NAME}:1", f"{NAME}:2")
    backward = diff(api, f"{NAME}:2", f"{NAME}:1")
    assert changes(backward["params"]) == [(k, b, a) for k, a, b in changes(forward["params"])]
    assert [(d["change"], d["digest"]) for d in backward["datasets"]] == [
        ("removed", SHA_B),
        ("added", SHA_A),
    ]
    assert [(f["path"], f["change"]) for f in backward["files"]] == [
        ("model.bin", "changed"),
        ("new.txt", "removed"),
        ("old.txt", "added"),
    ]


@pytest.mark.usefixtures("two_versions")
def test_diff_of_a_version_with_itself_is_empty_and_same_content(api) -> None:
    set_alias(api, NAME, "prod", 2)
    found = diff(api, f"{NAME}@prod", NAME)
    assert (found["a"], found["b"], found["same_content"]) == (f"{NAME}:2", f"{NAME}:2", True)
    for key in ("params", "metrics", "tags", "datasets", "packages", "code", "format", "files"):
        assert found[key] == [], key


def test_same_files_with_other_metadata_are_same_content(api) -> None:
    push_version(api, NAME, b"w", params={"seed": 1})
    push_version(api, "ads/copy", b"w", params={"seed": 2})
    found = diff(api, f"{NAME}:1", "ads/copy:1")
    assert (found["same_content"], found["files"]) == (True, [])
    assert changes(found["params"]) == [("seed", 1, 2)]


def test_diff_against_a_version_without_lineage_lists_every_field_once(api) -> None:
    push_version(api, NAME, b"1")
    lineage = {
        "environment": {"packages": {"numpy": "1"}},
        "code": {"repository": REPO, "commit": "c1"},
        "format": {"name": "onnx", "framework": "torch"},
    }
    push_version(api, NAME, b"2", lineage=lineage)
    found = diff(api, f"{NAME}:1", f"{NAME}:2")
    assert changes(found["packages"]) == [("numpy", None, "1")]
    assert changes(found["code"]) == [
        ("commit", None, "c1"),
        ("dirty", None, False),
        ("repository", None, REPO),
    ]
    assert changes(found["format"]) == [("framework", None, "torch"), ("name", None, "onnx")]


def test_diff_reports_a_param_whose_type_changed(api) -> None:
    """``true`` and ``1`` (or ``1`` and ``"1"``) are different configurations."""
    push_version(api, NAME, b"1", params={"flag": True, "width": 1, "name": "1"})
    push_version(api, NAME, b"2", params={"flag": 1, "width": "1", "name": 1})
    assert changes(diff(api, f"{NAME}:1", f"{NAME}:2")["params"]) == [
        ("flag", True, 1),
        ("name", "1", 1),
        ("width", 1, "1"),
    ]


def test_diff_leaves_out_sliced_metrics(api) -> None:
    slices = [{"name": "auc", "value": 0.5, "slice": "sex=f"}]
    push_version(api, NAME, b"1", metrics={"auc": 0.9})
    push_version(api, NAME, b"2", metrics={"auc": 0.9}, lineage={"metric_slices": slices})
    assert diff(api, f"{NAME}:1", f"{NAME}:2")["metrics"] == []


def test_diff_includes_deleted_versions(api) -> None:
    push_version(api, NAME, b"1", tags={"k": "a"})
    push_version(api, NAME, b"2", tags={"k": "b"})
    api.delete(model_url(NAME, "versions", "1"))
    assert changes(diff(api, f"{NAME}:1", f"{NAME}:2")["tags"]) == [("k", "a", "b")]


def test_diff_with_an_unknown_version_is_404(api) -> None:
    push_version(api, NAME)
    assert_problem(get(api, "/diff", a=f"{NAME}:1", b=f"{NAME}:9"), 404, "VERSION_NOT_FOUND")
    assert_problem(get(api, "/diff", a=f"{NAME}:9", b=f"{NAME}:1"), 404, "VERSION_NOT_FOUND")
    assert_problem(get(api, "/diff", a="ads/none:1", b=f"{NAME}:1"), 404, "MODEL_NOT_FOUND")
    assert_problem(get(api, "/diff", a=f"{NAME}@prod", b=f"{NAME}:1"), 404, "ALIAS_NOT_FOUND")


def test_diff_with_a_malformed_or_missing_ref_is_refused(api) -> None:
    push_version(api, NAME)
    assert_problem(get(api, "/diff", a=f"{NAME}:0", b=f"{NAME}:1"), 400, "REFERENCE_INVALID")
    assert_problem(get(api, "/diff", a=f"{NAME}:1"), 422, "INVALID_INPUT")


# --- /lineage/graph -------------------------------------------------------------------


def version_key(ref: str) -> str:
    return f"version:{ref}"


def graph(api, ref: str, **params: Any) -> dict[str, Any]:
    return assert_json(get(api, "/lineage/graph", ref=ref, **params), 200)  # type: ignore[no-any-return]


def version_nodes(found: dict[str, Any]) -> set[str]:
    return {n["label"] for n in found["nodes"] if n["kind"] == "version"}


def relation_edges(found: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (e["source"], e["target"], e["kind"])
        for e in found["edges"]
        if e["kind"] in ("derived_from", "depends_on")
    }


@pytest.fixture
def pipeline(api) -> None:
    """base:1 ← mid:1 → tool:1; top:1 derived from mid:1; app:1 depends on top:1.

    base and mid share one code commit; base used clicks to train, mid views to test.
    """
    code = {"repository": REPO, "commit": "0123456789abcdef0123"}
    push_version(
        api,
        "ads/base",
        b"base",
        lineage={
            "code": code,
            "datasets": [dataset(CLICKS, SHA_A, role="train", name="clicks", personal_data=True)],
        },
    )
    push_version(api, "ads/tool", b"tool", lineage={"format": {"name": "onnx"}})
    push_version(
        api,
        "ads/mid",
        b"mid",
        lineage={
            "code": code,
            "datasets": [dataset(VIEWS, role="test")],
            "derived_from": ["ads/base:1"],
            "depends_on": ["ads/tool:1"],
        },
    )
    push_version(api, "ads/top", b"top", lineage={"derived_from": ["ads/mid:1"]})
    push_version(api, "ads/app", b"app", lineage={"depends_on": ["ads/top:1"]})


@pytest.mark.usefixtures("pipeline")
def test_graph_holds_upstream_and_downstream_versions_with_datasets_and_code(api) -> None:
    found = graph(api, "ads/mid:1", depth=1)
    assert found["root"] == version_key("ads/mid:1")
    assert version_nodes(found) == {"ads/base:1", "ads/tool:1", "ads/mid:1", "ads/top:1"}
    assert relation_edges(found) == {
        (version_key("ads/mid:1"), version_key("ads/base:1"), "derived_from"),
        (version_key("ads/mid:1"), version_key("ads/tool:1"), "depends_on"),
        (version_key("ads/top:1"), version_key("ads/mid:1"), "derived_from"),
    }
    nodes = {n["id"]: n for n in found["nodes"]}
    datasets = {n["attributes"]["uri"]: n for n in found["nodes"] if n["kind"] == "dataset"}
    assert set(datasets) == {CLICKS, VIEWS}
    assert datasets[CLICKS]["label"] == "clicks"
    assert datasets[VIEWS]["label"] == VIEWS
    assert datasets[CLICKS]["attributes"] == {"uri": CLICKS, "digest": SHA_A, "personal_data": True}
    edges = {(e["source"], e["target"], e["kind"]) for e in found["edges"]}
    assert (version_key("ads/base:1"), datasets[CLICKS]["id"], "uses:train") in edges
    assert (version_key("ads/mid:1"), datasets[VIEWS]["id"], "uses:test") in edges
    code_key = f"code:{REPO}@0123456789abcdef0123"
    assert nodes[code_key]["kind"] == "code"
    assert nodes[code_key]["label"] == f"{REPO}@0123456789ab"
    assert {(s, k) for s, t, k in edges if t == code_key} == {
        (version_key("ads/base:1"), "built_from"),
        (version_key("ads/mid:1"), "built_from"),
    }
    assert len(found["nodes"]) == len(nodes), "each node once"
    tool = nodes[version_key("ads/tool:1")]["attributes"]
    assert (tool["format"], tool["deleted"]) == ("onnx", False)
    assert tool["digest"] == api.get(model_url("ads/tool", "versions", "1")).json()["digest"]


@pytest.mark.usefixtures("pipeline")
def test_graph_depth_limits_the_hops_each_way(api) -> None:
    assert version_nodes(graph(api, "ads/top:1", depth=1)) == {
        "ads/top:1",
        "ads/mid:1",
        "ads/app:1",
    }
    assert version_nodes(graph(api, "ads/top:1", depth=2)) == {
        "ads/top:1",
        "ads/mid:1",
        "ads/app:1",
        "ads/base:1",
        "ads/tool:1",
    }
    assert version_nodes(graph(api, "ads/base:1", depth=1)) == {"ads/base:1", "ads/mid:1"}
    assert version_nodes(graph(api, "ads/base:1", depth=2)) == {
        "ads/base:1",
        "ads/mid:1",
        "ads/top:1",
    }
    assert version_nodes(graph(api, "ads/base:1")) == {
        "ads/base:1",
        "ads/mid:1",
        "ads/top:1",
        "ads/app:1",
    }


@pytest.mark.usefixtures("pipeline")
def test_graph_downstream_does_not_climb_back_up_to_siblings(api) -> None:
    # tool:1 is used by mid:1; mid's other parent, base:1, is not tool's relative.
    assert version_nodes(graph(api, "ads/tool:1", depth=3)) == {
        "ads/tool:1",
        "ads/mid:1",
        "ads/top:1",
        "ads/app:1",
    }


def test_graph_of_a_lone_version_is_its_node(api) -> None:
    push_version(api, NAME)
    found = graph(api, NAME)
    assert (found["root"], found["edges"]) == (version_key(f"{NAME}:1"), [])
    assert [n["id"] for n in found["nodes"]] == [version_key(f"{NAME}:1")]


@pytest.mark.usefixtures("pipeline")
def test_graph_shows_deleted_versions_as_deleted(api) -> None:
    api.delete(model_url("ads/app", "versions", "1"))
    found = graph(api, "ads/top:1", depth=1)
    nodes = {n["label"]: n for n in found["nodes"]}
    assert nodes["ads/app:1"]["attributes"]["deleted"] is True
    assert graph(api, "ads/app:1")["root"] == version_key("ads/app:1")


@pytest.mark.usefixtures("pipeline")
def test_graph_follows_relations_added_later(api) -> None:
    push_version(api, "ads/extra", b"extra")
    add_relation(api, "ads/base", 1, "depends_on", "ads/extra:1")
    assert "ads/extra:1" in version_nodes(graph(api, "ads/mid:1", depth=2))
    assert "ads/extra:1" not in version_nodes(graph(api, "ads/mid:1", depth=1))


def test_graph_depth_out_of_range_is_refused(api) -> None:
    push_version(api, NAME)
    for depth in ("0", "-1", "11", "x"):
        response = get(api, "/lineage/graph", ref=NAME, depth=depth)
        assert_problem(response, 422, "INVALID_INPUT", depth)
    assert graph(api, NAME, depth=10)["root"] == version_key(f"{NAME}:1")


def test_graph_of_an_unknown_or_malformed_ref_is_refused(api) -> None:
    push_version(api, NAME)
    assert_problem(get(api, "/lineage/graph", ref=f"{NAME}:5"), 404, "VERSION_NOT_FOUND")
    assert_problem(get(api, "/lineage/graph", ref="ads/none"), 404, "MODEL_NOT_FOUND")
    assert_problem(get(api, "/lineage/graph", ref="Bad Ref"), 400, "REFERENCE_INVALID")
    assert_problem(get(api, "/lineage/graph"), 422, "INVALID_INPUT")
