"""A version's lifecycle through the SDK over HTTP: deprecate, revoke and reinstate;
``pull`` and ``load`` refuse a revoked version unless ``allow_revoked=True`` and warn,
naming the replacement, on a deprecated one; revocation by dataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from modeldepot.client.lifecycle import VersionStatusWarning
from modeldepot.errors import DatasetNotFound, InvalidInput, VersionRevoked
from tests.conftest import make_model_dir

NAME = "ads/churn"
CLICKS = "s3://data/clicks"


def push_two(client, tmp_path: Path, **fields: object) -> None:
    for i in (1, 2):
        source = make_model_dir(tmp_path / f"src{i}", {"model.bin": f"weights {i}".encode()})
        client.push(source, NAME, capture=False, **fields)


def test_status_changes_round_trip(client, tmp_path: Path) -> None:
    push_two(client, tmp_path)
    deprecated = client.deprecate_version(f"{NAME}:1", "worse AUC", replacement=2)
    assert (deprecated.status, deprecated.status_reason, deprecated.replacement) == (
        "deprecated",
        "worse AUC",
        2,
    )
    assert client.get_version(f"{NAME}:1").status == "deprecated"
    assert client.revoke_version(f"{NAME}:1", "leak").status == "revoked"
    reinstated = client.reinstate_version(f"{NAME}:1", "false alarm")
    assert (reinstated.status, reinstated.replacement) == ("active", None)
    with pytest.raises(InvalidInput, match="replace itself"):
        client.deprecate_version(f"{NAME}:2", "x", replacement=2)


def test_pulling_a_deprecated_version_warns_naming_the_replacement(client, tmp_path) -> None:
    push_two(client, tmp_path)
    client.deprecate_version(f"{NAME}:1", "worse AUC", replacement=2)
    with pytest.warns(VersionStatusWarning) as caught:
        version = client.pull(f"{NAME}:1", tmp_path / "out")
    assert version.number == 1
    (message,) = [str(w.message) for w in caught]
    assert message == f"{NAME}:1 is deprecated (worse AUC); use {NAME}:2 instead"
    assert (tmp_path / "out" / "model.bin").read_bytes() == b"weights 1"


def test_pulling_an_active_version_warns_nothing(client, tmp_path) -> None:
    push_two(client, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VersionStatusWarning)
        client.pull(f"{NAME}:2", tmp_path / "out")


def test_pulling_a_revoked_version_is_refused_unless_allowed(client, tmp_path) -> None:
    push_two(client, tmp_path)
    client.revoke_version(f"{NAME}:1", "trained on leaked data")
    client.set_alias(NAME, "champion", 1)
    with pytest.raises(VersionRevoked, match="trained on leaked data"):
        client.pull(f"{NAME}@champion", tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    # The alias still resolves, with the status, so a deployment can see it.
    assert client.resolve(f"{NAME}@champion").status == "revoked"
    assert client.get_alias(NAME, "champion").version_status == "revoked"
    with pytest.warns(VersionStatusWarning, match="revoked"):
        client.pull(f"{NAME}@champion", tmp_path / "allowed", allow_revoked=True)
    assert (tmp_path / "allowed" / "model.bin").read_bytes() == b"weights 1"


def affine() -> object:
    w = helper.make_tensor("W", TensorProto.FLOAT, [2, 1], [1.0, 2.0])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_loading_follows_the_same_rules(client) -> None:
    client.push_model(affine(), NAME, capture=False)
    client.push_model(affine(), NAME, capture=False)
    client.deprecate_version(f"{NAME}:1", "superseded", replacement=2)
    with pytest.warns(VersionStatusWarning, match=f"use {NAME}:2 instead"):
        assert client.load(f"{NAME}:1") is not None
    client.revoke_version(f"{NAME}:1", "leak")
    with pytest.raises(VersionRevoked):
        client.load(f"{NAME}:1")
    with pytest.warns(VersionStatusWarning):
        assert client.load(f"{NAME}:1", allow_revoked=True) is not None


def test_revoking_by_dataset_plans_then_applies(client, tmp_path) -> None:
    push_two(client, tmp_path, datasets=[{"uri": CLICKS, "role": "train"}])
    planned = client.revoke_by_dataset(CLICKS, "leaked rows")
    assert not planned.applied
    assert [(v.model, v.number) for v in planned.versions] == [(NAME, 1), (NAME, 2)]
    assert client.get_version(f"{NAME}:1").status == "active"
    done = client.revoke_by_dataset(CLICKS, "leaked rows", apply=True)
    assert done.applied
    assert {client.get_version(f"{NAME}:{n}").status for n in (1, 2)} == {"revoked"}
    with pytest.raises(DatasetNotFound):
        client.revoke_by_dataset("s3://data/none", "x")
