"""In-memory models through the SDK over HTTP: push_model, load and verify with real
scikit-learn, PyTorch and ONNX models."""

from __future__ import annotations

import pickle
from importlib import metadata
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modeldepot.client import serialize
from modeldepot.client.capture import environment as capture_environment
from modeldepot.environment import PackageDifference
from modeldepot.errors import InvalidInput
from tests.conftest import make_model_dir


class TinyNet(torch.nn.Module):
    """Rebuilt by ``load`` from its class, which this module has imported."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x))


@pytest.fixture
def pipeline() -> tuple[Pipeline, np.ndarray]:
    """A fitted StandardScaler + LogisticRegression, and rows to predict on."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(x, y)
    return model, x[:5]


def tiny_net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


def onnx_affine() -> onnx.ModelProto:
    """y = x @ W + b, with W and b as initializers."""
    w = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [0.5, -1.0, 2.0, 0.25, -0.75, 1.5])
    b = helper.make_tensor("B", TensorProto.FLOAT, [2], [0.1, -0.2])
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["y"]),
        ],
        "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


# --- push_model, load, verify -----------------------------------------------------------


def test_sklearn_pipeline_round_trips_as_skops_and_verifies(client, pipeline) -> None:
    model, rows = pipeline
    version = client.push_model(model, "a/clf", input_example=rows)
    assert version.format == "skops"
    lineage = client.get_lineage("a/clf:1")
    assert lineage.format is not None and lineage.format.path == "model.skops"
    assert lineage.format.framework_version == metadata.version("scikit-learn")
    assert lineage.input_example == rows.tolist()
    assert lineage.output_example == model.predict(rows).tolist()
    loaded = client.load("a/clf")
    assert isinstance(loaded, Pipeline)
    assert np.array_equal(loaded.predict(rows), model.predict(rows))
    report = client.verify("a/clf:1")
    assert report.matches is True
    assert report.ref == "a/clf:1"
    assert report.max_abs_diff == 0
    assert report.packages == []


def test_torch_module_is_rebuilt_from_its_class_and_verifies(client) -> None:
    net = tiny_net()
    example = torch.randn(3, 4)
    version = client.push_model(net, "a/net", input_example=example)
    assert version.format == "safetensors"
    lineage = client.get_lineage("a/net:1")
    assert lineage.signature is not None
    assert [(s.dtype, s.shape) for s in lineage.signature.inputs] == [("float32", [None, 4])]
    loaded = client.load("a/net:1")
    assert isinstance(loaded, TinyNet) and not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(example), net(example))
    assert client.verify("a/net:1").matches is True


def test_torch_state_dict_loads_back_as_equal_tensors(client) -> None:
    state = tiny_net().state_dict()
    version = client.push_model(state, "a/weights")
    assert version.format == "safetensors"
    loaded = client.load("a/weights")
    assert isinstance(loaded, dict) and loaded.keys() == state.keys()
    assert all(torch.equal(loaded[key], state[key]) for key in state)


def test_onnx_model_built_with_helper_runs_and_verifies(client) -> None:
    proto = onnx_affine()
    example = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=np.float32)
    version = client.push_model(proto, "a/onnx", input_example=example)
    assert version.format == "onnx"
    loaded = client.load("a/onnx")
    expected = example @ np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]]) + [0.1, -0.2]
    assert np.allclose(loaded.run(example)["y"], expected, atol=1e-6)
    report = client.verify("a/onnx:1")
    assert report.matches is True and report.max_abs_diff == 0


def test_verify_reports_a_mismatch_when_the_model_now_predicts_otherwise(
    client, pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, rows = pipeline
    client.push_model(model, "a/clf", input_example=rows)
    expected = model.predict(rows).tolist()
    real_predict = serialize.predict

    def flipped(*args, **kwargs):
        return [1 - label for label in real_predict(*args, **kwargs)]

    monkeypatch.setattr(serialize, "predict", flipped)
    report = client.verify("a/clf:1")
    assert report.matches is False
    assert report.max_abs_diff == 1
    assert report.detail == (
        f"5 of 5 numbers differ; first at $[0]: got {1 - expected[0]}, expected {expected[0]}"
    )


def test_verify_within_tolerance_matches_and_beyond_it_does_not(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = np.ones((1, 3), dtype=np.float32)
    client.push_model(onnx_affine(), "a/onnx", input_example=example)
    real_predict = serialize.predict

    def nudged(*args, **kwargs):
        out = real_predict(*args, **kwargs)
        return {"y": [[value + 1e-3 for value in row] for row in out["y"]]}

    monkeypatch.setattr(serialize, "predict", nudged)
    assert client.verify("a/onnx", atol=1e-2).matches is True
    strict = client.verify("a/onnx")
    assert strict.matches is False and strict.detail.startswith("2 of 2 numbers differ")


def test_verify_lists_packages_that_differ_from_the_recorded_environment(
    client, pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, rows = pipeline
    client.push_model(model, "a/clf", input_example=rows)
    recorded = client.get_lineage("a/clf:1").environment
    assert recorded is not None
    now = {**recorded.packages, "numpy": "0.0.1", "brand-new": "1.0"}
    del now["httpx"]
    monkeypatch.setattr(capture_environment, "installed_packages", lambda: now)
    report = client.verify("a/clf:1")
    assert report.matches is True
    assert report.packages == [
        PackageDifference("brand-new", None, "1.0"),
        PackageDifference("httpx", metadata.version("httpx"), None),
        PackageDifference("numpy", metadata.version("numpy"), "0.0.1"),
    ]


def test_verify_compares_with_an_environment_given_at_push(client, pipeline, tmp_path) -> None:
    model, rows = pipeline
    saved = serialize.save_model(model, tmp_path / "saved", input_example=rows)
    client.push(
        tmp_path / "saved",
        "a/clf",
        lineage={
            "format": saved.format.model_dump(),
            "input_example": saved.input_example,
            "output_example": saved.output_example,
            "environment": {"packages": {"NumPy": "0.0.1", "not-installed-pkg": "1.0"}},
        },
    )
    report = client.verify("a/clf")
    assert report.matches is True
    differences = {d.name: d for d in report.packages}
    assert differences["numpy"] == PackageDifference("numpy", "0.0.1", metadata.version("numpy"))
    assert differences["not-installed-pkg"] == PackageDifference("not-installed-pkg", "1.0", None)
    assert differences["httpx"] == PackageDifference("httpx", None, metadata.version("httpx"))


# --- what load and verify refuse --------------------------------------------------------


def test_load_of_a_version_without_format_raises_invalid_input(client, tmp_path: Path) -> None:
    client.push(make_model_dir(tmp_path / "m", {"notes.txt": b"x"}), "a/m", capture=False)
    with pytest.raises(InvalidInput, match="no recorded model format"):
        client.load("a/m")
    with pytest.raises(InvalidInput, match="no recorded model format"):
        client.verify("a/m")


def test_verify_without_an_input_example_raises_invalid_input(client, pipeline) -> None:
    model, _ = pipeline
    client.push_model(model, "a/clf")
    with pytest.raises(InvalidInput, match="no input example"):
        client.verify("a/clf")


def test_pickled_model_loads_only_with_allow_pickle(client, pipeline, tmp_path: Path) -> None:
    model, rows = pipeline
    source = make_model_dir(tmp_path / "m", {"model.pkl": pickle.dumps(model)})
    version = client.push(source, "a/pickled")
    assert version.format == "sklearn"
    with pytest.raises(InvalidInput, match="allow_pickle=True"):
        client.load("a/pickled")
    loaded = client.load("a/pickled", allow_pickle=True)
    assert np.array_equal(loaded.predict(rows), model.predict(rows))


def test_load_and_verify_count_as_pulls(client, pipeline) -> None:
    model, rows = pipeline
    client.push_model(model, "a/clf", input_example=rows)
    client.load("a/clf")
    client.verify("a/clf")
    (entry,) = client.inventory().models
    assert [(p.number, p.count, p.by) for p in entry.pulls] == [(1, 2, {"admin": 2})]
