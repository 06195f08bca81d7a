"""Lineage over HTTP: what a commit records, what it refuses, relations added later,
and the requirements file of a captured environment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.helpers import (
    assert_json,
    assert_problem,
    commit,
    entry,
    model_url,
    put_blob,
)
from tests.api.lineage_helpers import (
    SHA_A,
    SHA_B,
    SHA_C,
    add_relation,
    dataset,
    lineage,
    push_version,
    refs_of,
    set_alias,
)

NAME = "ads/rec"
BASE = "ads/base"
EMB = "ads/emb"

CODE = {
    "repository": "https://git.example.com/ads/rec.git",
    "commit": "0123456789abcdef0123456789abcdef01234567",
    "branch": "main",
    "dirty": True,
    "diff_digest": SHA_A,
    "entry_point": "train.py:main",
}
ENVIRONMENT = {
    "python": "3.11.7",
    "implementation": "CPython",
    "platform": "Linux-6.1-x86_64",
    "packages": {"numpy": "1.26.4", "scikit-learn": "1.4.0"},
    "accelerator": "NVIDIA A100",
    "container_image": "ghcr.io/ads/train:1",
}
FORMAT = {"name": "sklearn", "framework": "scikit-learn", "framework_version": "1.4.0"}
SIGNATURE = {
    "inputs": [{"name": "x", "dtype": "float64", "shape": [None, 3]}],
    "outputs": [{"name": None, "dtype": "int64", "shape": [None]}],
}
CARD = "# rec\n## Intended use\nRanking ads.\n## Limitations\nCold start.\n"
TRAIN = "s3://data/clicks/2026-10"
HOLDOUT = "s3://data/clicks/holdout"


def full_lineage() -> dict[str, Any]:
    return {
        "code": CODE,
        "environment": ENVIRONMENT,
        "datasets": [
            dataset(TRAIN, SHA_B, role="train", name="clicks", size=1024, personal_data=True),
            dataset(HOLDOUT, SHA_C, role="test", name="holdout"),
        ],
        "metric_slices": [
            {"name": "auc", "value": 0.93, "slice": "sex=male", "dataset": HOLDOUT},
            {"name": "auc", "value": 0.91, "slice": "sex=female", "dataset": HOLDOUT},
            {"name": "loss", "value": 0.2, "dataset": TRAIN},
        ],
        "derived_from": [f"{BASE}:1"],
        "depends_on": [f"{EMB}@prod"],
        "format": FORMAT,
        "signature": SIGNATURE,
        "input_example": {"x": [[1.0, 2.5, -3.0]], "note": "ünïcode"},
        "output_example": [1],
    }


@pytest.fixture
def upstream(api) -> None:
    """``ads/base:1``, and ``ads/emb`` with two versions and ``prod`` on the second."""
    push_version(api, BASE, b"base")
    push_version(api, EMB, b"emb1")
    push_version(api, EMB, b"emb2")
    set_alias(api, EMB, "prod", 2)


def commit_with(api, lineage_fields: dict[str, Any], name: str = NAME, **fields: Any):
    """Commit one small file with ``lineage_fields`` as its lineage."""
    put_blob(api, b"w")
    return commit(api, name, [entry("model.bin", b"w")], lineage=lineage_fields, **fields)


def assert_nothing_committed(api, name: str = NAME) -> None:
    assert_problem(api.get(model_url(name)), 404, "MODEL_NOT_FOUND")


# --- a commit with lineage ------------------------------------------------------------


@pytest.mark.usefixtures("upstream")
def test_full_lineage_is_returned_whole_by_get_lineage(api) -> None:
    response = commit_with(api, full_lineage(), metrics={"auc": 0.92}, card=CARD)
    assert response.status_code == 201, response.text
    got = lineage(api, NAME, 1)
    assert (got["model"], got["number"]) == (NAME, 1)
    assert got["code"] == CODE
    assert got["environment"] == ENVIRONMENT
    assert got["format"] == {**FORMAT, "path": None}
    assert got["signature"] == SIGNATURE
    assert got["input_example"] == {"x": [[1.0, 2.5, -3.0]], "note": "ünïcode"}
    assert got["output_example"] == [1]
    used = {d["uri"]: d for d in got["datasets"]}
    assert [d["role"] for d in got["datasets"]] == ["test", "train"]
    assert {k: v for k, v in used[TRAIN].items() if k != "id"} == {
        "uri": TRAIN,
        "digest": SHA_B,
        "name": "clicks",
        "size": 1024,
        "personal_data": True,
        "role": "train",
    }
    assert (used[HOLDOUT]["personal_data"], used[HOLDOUT]["size"]) == (False, None)
    assert got["metric_slices"] == [
        {"name": "auc", "value": 0.91, "slice": "sex=female", "dataset": HOLDOUT},
        {"name": "auc", "value": 0.93, "slice": "sex=male", "dataset": HOLDOUT},
        {"name": "loss", "value": 0.2, "slice": "", "dataset": TRAIN},
    ]
    assert got["derived_from"] == [
        {"kind": "derived_from", "model": BASE, "number": 1, "deleted": False}
    ]
    assert got["depends_on"] == [
        {"kind": "depends_on", "model": EMB, "number": 2, "deleted": False}
    ]
    assert got["used_by"] == []


@pytest.mark.usefixtures("upstream")
def test_upstream_versions_list_the_new_version_in_used_by(api) -> None:
    assert commit_with(api, full_lineage()).status_code == 201
    assert lineage(api, BASE, 1)["used_by"] == [
        {"kind": "derived_from", "model": NAME, "number": 1, "deleted": False}
    ]
    assert lineage(api, EMB, 2)["used_by"] == [
        {"kind": "depends_on", "model": NAME, "number": 1, "deleted": False}
    ]
    assert lineage(api, EMB, 1)["used_by"] == []


@pytest.mark.usefixtures("upstream")
def test_alias_ref_records_the_version_the_alias_pointed_at_then(api) -> None:
    assert commit_with(api, {"depends_on": [f"{EMB}@prod"]}).status_code == 201
    set_alias(api, EMB, "prod", 1)
    assert refs_of(lineage(api, NAME, 1)["depends_on"]) == [f"{EMB}:2"]


@pytest.mark.usefixtures("upstream")
def test_version_read_carries_format_and_card_completeness(api) -> None:
    created = assert_json(commit_with(api, full_lineage(), card=CARD), 201)
    read = assert_json(api.get(model_url(NAME, "versions", "1")), 200)
    for version in (created, read):
        assert (version["format"], version["card_completeness"]) == ("sklearn", 0.33)


@pytest.mark.usefixtures("upstream")
def test_commit_response_equals_the_version_read_back(api) -> None:
    """A slice-less metric on a dataset is a plain metric too: GET shows it in
    ``metrics``, so the commit's answer must as well."""
    created = assert_json(commit_with(api, full_lineage(), metrics={"auc": 0.92}), 201)
    read = assert_json(api.get(model_url(NAME, "versions", "1")), 200)
    assert created == read
    assert read["metrics"] == {"auc": 0.92, "loss": 0.2}


def test_version_without_lineage_has_an_empty_lineage(api) -> None:
    push_version(api, NAME)
    got = lineage(api, NAME, 1)
    for key in ("code", "environment", "format", "signature", "input_example", "output_example"):
        assert got[key] is None, key
    for key in ("datasets", "metric_slices", "derived_from", "depends_on", "used_by"):
        assert got[key] == [], key
    version = assert_json(api.get(model_url(NAME, "versions", "1")), 200)
    assert (version["format"], version["card_completeness"]) == (None, None)


@pytest.mark.usefixtures("upstream")
def test_refs_naming_one_version_twice_record_one_relation(api) -> None:
    refs = [f"{EMB}:2", f"{EMB}@prod", EMB, f"models:/{EMB}/2"]
    assert commit_with(api, {"depends_on": refs}).status_code == 201
    assert refs_of(lineage(api, NAME, 1)["depends_on"]) == [f"{EMB}:2"]


@pytest.mark.usefixtures("upstream")
def test_relation_to_a_version_deleted_later_is_shown_as_deleted(api) -> None:
    assert commit_with(api, {"derived_from": [f"{EMB}:1"]}).status_code == 201
    assert api.delete(model_url(EMB, "versions", "1")).status_code == 200
    assert lineage(api, NAME, 1)["derived_from"][0]["deleted"] is True


def test_lineage_of_a_deleted_version_is_still_readable(api) -> None:
    push_version(api, NAME, lineage={"format": {"name": "onnx"}})
    push_version(api, NAME, b"2")
    api.delete(model_url(NAME, "versions", "1"))
    assert lineage(api, NAME, 1)["format"]["name"] == "onnx"


def test_lineage_of_an_unknown_version_is_404_version_not_found(api) -> None:
    push_version(api, NAME)
    response = api.get(model_url(NAME, "versions", "9", "lineage"))
    assert_problem(response, 404, "VERSION_NOT_FOUND")
    assert_problem(
        api.get(model_url("ads/none", "versions", "1", "lineage")), 404, "MODEL_NOT_FOUND"
    )


# --- what a commit refuses ----------------------------------------------------------


def test_metric_slice_naming_a_dataset_not_in_the_version_is_400_lineage_invalid(api) -> None:
    fields = {
        "datasets": [dataset(TRAIN, role="train")],
        "metric_slices": [{"name": "auc", "value": 0.9, "dataset": HOLDOUT}],
    }
    body = assert_problem(commit_with(api, fields), 400, "LINEAGE_INVALID")
    assert HOLDOUT in body["detail"]
    assert_nothing_committed(api)


def test_conflicting_values_for_one_metric_and_slice_are_400_lineage_invalid(api) -> None:
    cases = {
        "two slices": (
            {},
            [
                {"name": "auc", "value": 0.9, "slice": "s=a"},
                {"name": "auc", "value": 0.8, "slice": "s=a"},
            ],
        ),
        "slice against metric": ({"auc": 0.9}, [{"name": "auc", "value": 0.8}]),
    }
    for case, (metrics, slices) in cases.items():
        response = commit_with(api, {"metric_slices": slices}, metrics=metrics)
        assert_problem(response, 400, "LINEAGE_INVALID", case)
    assert_nothing_committed(api)


def test_equal_values_for_one_metric_and_slice_are_accepted(api) -> None:
    slices = [{"name": "auc", "value": 0.9, "slice": "s=a"}] * 2
    assert commit_with(api, {"metric_slices": slices}).status_code == 201
    assert lineage(api, NAME, 1)["metric_slices"] == [
        {"name": "auc", "value": 0.9, "slice": "s=a", "dataset": None}
    ]


def test_one_uri_with_two_digests_in_one_version_is_400_lineage_invalid(api) -> None:
    fields = {"datasets": [dataset(TRAIN, SHA_A), dataset(TRAIN, SHA_B, role="test")]}
    assert_problem(commit_with(api, fields), 400, "LINEAGE_INVALID")
    assert_nothing_committed(api)


def raw_commit(api, lineage_json: str):
    """Commit with ``lineage_json`` spliced in as text: JSON cannot carry NaN or infinity,
    so these bodies are what a sloppy client (Python's ``json.dumps``) sends."""
    put_blob(api, b"w")
    files = json.dumps([entry("model.bin", b"w")])
    return api.post(
        model_url(NAME, "versions"),
        content=f'{{"files": {files}, "lineage": {lineage_json}}}',
        headers={"content-type": "application/json"},
    )


def test_non_finite_numbers_in_lineage_are_400_lineage_invalid(api) -> None:
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        bodies = {
            "metric slice": f'{{"metric_slices": [{{"name": "auc", "value": {value}}}]}}',
            "input example": f'{{"input_example": {{"x": [{value}]}}}}',
            "output example": f'{{"output_example": {value}}}',
        }
        for case, body in bodies.items():
            assert_problem(raw_commit(api, body), 400, "LINEAGE_INVALID", (case, value))
    assert_nothing_committed(api)


def test_non_finite_numbers_nested_in_params_are_400_metadata_invalid(api) -> None:
    put_blob(api, b"w")
    files = json.dumps([entry("model.bin", b"w")])
    for value in ("NaN", "Infinity", "-1e999"):
        for params in (f'{{"opt": {{"lr": {value}}}}}', f'{{"betas": [0.9, {value}]}}'):
            response = api.post(
                model_url(NAME, "versions"),
                content=f'{{"files": {files}, "params": {params}}}',
                headers={"content-type": "application/json"},
            )
            assert_problem(response, 400, "METADATA_INVALID", params)
    assert_nothing_committed(api)


def test_relation_to_a_missing_version_is_404_relation_target_not_found(api) -> None:
    push_version(api, BASE)
    push_version(api, BASE, b"2")
    api.delete(model_url(BASE, "versions", "2"))
    targets = [f"{BASE}:7", f"{BASE}@prod", "ads/none:1", "ads/none", f"{BASE}:2"]
    for kind in ("derived_from", "depends_on"):
        for ref in targets:
            body = assert_problem(
                commit_with(api, {kind: [f"{BASE}:1", ref]}),
                404,
                "RELATION_TARGET_NOT_FOUND",
                (kind, ref),
            )
            assert body["ref"] == ref
    assert_nothing_committed(api)
    assert lineage(api, BASE, 1)["used_by"] == []


def test_malformed_ref_in_relations_is_400_reference_invalid(api) -> None:
    push_version(api, BASE)
    for kind in ("derived_from", "depends_on"):
        for ref in ("", "ads/base:0", "Ads/Base", "ads/base@", "ads//base", "ads/base:x"):
            response = commit_with(api, {kind: [ref]})
            assert_problem(response, 400, "REFERENCE_INVALID", (kind, ref))
    assert_nothing_committed(api)


def test_oversized_examples_are_413_metadata_too_large(api) -> None:
    big = "x" * (256 * 1024)
    for key in ("input_example", "output_example"):
        assert_problem(commit_with(api, {key: big}), 413, "METADATA_TOO_LARGE", key)
    assert_nothing_committed(api)


def test_example_just_under_256_kib_is_accepted(api) -> None:
    example = "x" * (256 * 1024 - 2)  # the JSON string's quotes make up the rest
    assert commit_with(api, {"input_example": example}).status_code == 201
    assert lineage(api, NAME, 1)["input_example"] == example


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_examples_nested_too_deep_to_read_back_are_413_metadata_too_large(api) -> None:
    """An example the server could store but not serialise again would break every
    later read of the lineage; it is refused at commit instead."""
    for depth in (300, 900):
        for key in ("input_example", "output_example"):
            response = raw_commit(api, f'{{"{key}": {nested_list(depth)}}}')
            assert_problem(response, 413, "METADATA_TOO_LARGE", (key, depth))
    assert_nothing_committed(api)


def test_moderately_nested_example_is_read_back_whole(api) -> None:
    response = raw_commit(api, f'{{"input_example": {{"x": {nested_list(40)}}}}}')
    assert response.status_code == 201, response.text
    assert json.dumps(lineage(api, NAME, 1)["input_example"]["x"]) == nested_list(40)


def test_unknown_lineage_fields_are_422_invalid_input(api) -> None:
    cases = {
        "top level": {"owner": "alice"},
        "code": {"code": {"repo": "x"}},
        "environment": {"environment": {"conda": "x"}},
        "dataset": {"datasets": [{"uri": TRAIN, "licence": "mit"}]},
        "metric slice": {"metric_slices": [{"name": "auc", "value": 1, "split": "a"}]},
        "format": {"format": {"name": "onnx", "opset": 17}},
        "tensor": {"signature": {"inputs": [{"dtype": "f4", "layout": "nchw"}]}},
    }
    for case, fields in cases.items():
        body = assert_problem(commit_with(api, fields), 422, "INVALID_INPUT", case)
        assert body["errors"][0]["loc"][:2] == ["body", "lineage"], case
    assert_nothing_committed(api)


def test_lineage_of_the_wrong_shape_is_422_invalid_input(api) -> None:
    cases = {
        "unknown role": {"datasets": [dataset(TRAIN, role="training")]},
        "unknown format": {"format": {"name": "tensorflow-lite"}},
        "empty uri": {"datasets": [dataset("")]},
        "negative size": {"datasets": [dataset(TRAIN, size=-1)]},
        "refs not a list": {"derived_from": "ads/base:1"},
        "string metric value": {"metric_slices": [{"name": "auc", "value": "high"}]},
    }
    for case, fields in cases.items():
        assert_problem(commit_with(api, fields), 422, "INVALID_INPUT", case)
    assert_nothing_committed(api)


NUL_CASES = {
    "code": {"code": {"repository": "git\x00evil"}},
    "package name": {"environment": {"packages": {"num\x00py": "1"}}},
    "package version": {"environment": {"packages": {"numpy": "1\x00"}}},
    "format path": {"format": {"name": "onnx", "path": "a\x00b"}},
    "tensor name": {"signature": {"inputs": [{"name": "x\x00", "dtype": "f4"}]}},
    "input example": {"input_example": {"text": "a\x00b"}},
    "output example key": {"output_example": {"a\x00b": 1}},
    "dataset uri": {"datasets": [dataset("s3://a\x00b")]},
    "dataset digest": {"datasets": [dataset(TRAIN, "sha\x00")]},
    "dataset name": {"datasets": [dataset(TRAIN, name="n\x00")]},
    "metric slice": {"metric_slices": [{"name": "auc", "value": 1, "slice": "s\x00"}]},
}


def test_nul_characters_in_lineage_are_400_lineage_invalid(api) -> None:
    for case, fields in NUL_CASES.items():
        assert_problem(commit_with(api, fields), 400, "LINEAGE_INVALID", case)
    assert_nothing_committed(api)


def test_nul_characters_in_metric_names_and_refs_are_400(api) -> None:
    cases = {
        "metric name": ({"metric_slices": [{"name": "a\x00", "value": 1}]}, "METADATA_INVALID"),
        "ref": ({"derived_from": ["ads/base\x00:1"]}, "REFERENCE_INVALID"),
    }
    for case, (fields, code) in cases.items():
        assert_problem(commit_with(api, fields), 400, code, case)
    assert_nothing_committed(api)


@pytest.mark.usefixtures("upstream")
def test_relation_recorded_at_commit_counts_for_cycles(api) -> None:
    assert commit_with(api, {"derived_from": [f"{BASE}:1"]}).status_code == 201
    response = add_relation(api, BASE, 1, "depends_on", f"{NAME}:1")
    assert_problem(response, 409, "RELATION_CYCLE")


# --- requirements ---------------------------------------------------------------------


def test_requirements_pin_the_captured_packages(api) -> None:
    environment = {
        "python": "3.11.7",
        "implementation": "CPython",
        "platform": "Linux",
        "packages": {"Scikit_Learn": "1.4.0", "numpy": "1.26.4", "torch": "2.2.0+cu121"},
    }
    push_version(api, NAME, lineage={"environment": environment})
    response = api.get(model_url(NAME, "versions", "1", "requirements"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert lines[-3:] == ["numpy==1.26.4", "scikit-learn==1.4.0", "torch==2.2.0+cu121"]
    assert "# Python: CPython 3.11.7" in lines
    assert all(line.startswith("#") for line in lines[:-3])


def test_requirements_leave_out_entries_that_could_inject_lines(api) -> None:
    packages = {"numpy": "1.26.4", "evil": "1.0\n--index-url http://x", "-e .": "1"}
    push_version(api, NAME, lineage={"environment": {"packages": packages}})
    text = api.get(model_url(NAME, "versions", "1", "requirements")).text
    pins = [line for line in text.splitlines() if not line.startswith("#")]
    assert pins == ["numpy==1.26.4"]
    assert "Left out 2 entries" in text


def test_requirements_of_a_version_without_environment_is_a_comment(api) -> None:
    push_version(api, NAME)
    response = api.get(model_url(NAME, "versions", "1", "requirements"))
    assert response.status_code == 200
    assert response.text == "# no environment was captured for this version\n"


def test_requirements_of_an_unknown_version_is_404_version_not_found(api) -> None:
    push_version(api, NAME)
    response = api.get(model_url(NAME, "versions", "2", "requirements"))
    assert_problem(response, 404, "VERSION_NOT_FOUND")
