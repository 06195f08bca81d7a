"""ONNX graphs are saved as they are, described by their own signature and run by onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modeldepot.client.serialize import OnnxModel, load_model, predict, save_model
from modeldepot.client.verify import compare_outputs
from modeldepot.errors import InvalidInput
from modeldepot.schemas.lineage import Signature, TensorSpec

WEIGHT = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], dtype=np.float32)


def build(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what the installed onnxruntime surely reads
    return model


def add_model() -> onnx.ModelProto:
    return build(
        [helper.make_node("Add", ["a", "b"], ["sum"])],
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 2]),
        ],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 2])],
    )


def matmul_model() -> onnx.ModelProto:
    weight = numpy_helper.from_array(WEIGHT, name="weight")
    return build(
        [helper.make_node("MatMul", ["x", "weight"], ["y"])],
        # Older exporters list initializers among the inputs too; they are not inputs.
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3]),
            helper.make_tensor_value_info("weight", TensorProto.FLOAT, [3, 2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        [weight],
    )


def test_two_input_model_round_trip(tmp_path: Path):
    example = {"a": [[1.0, 2.0]], "b": np.array([[0.5, 0.25]], dtype=np.float32)}
    saved = save_model(add_model(), tmp_path, input_example=example)

    assert saved.files == ["model.onnx"]
    assert saved.format.name == "onnx"
    assert saved.format.path == "model.onnx"
    assert saved.signature == Signature(
        inputs=[
            TensorSpec(name="a", dtype="float32", shape=[None, 2]),
            TensorSpec(name="b", dtype="float32", shape=[None, 2]),
        ],
        outputs=[TensorSpec(name="sum", dtype="float32", shape=[None, 2])],
    )
    assert saved.input_example == {"a": [[1.0, 2.0]], "b": [[0.5, 0.25]]}
    assert saved.output_example == {"sum": [[1.5, 2.25]]}
    json.dumps(saved.output_example)

    loaded = load_model(tmp_path, saved.format)
    assert isinstance(loaded, OnnxModel)
    assert loaded.proto.graph.node[0].op_type == "Add"
    output = predict(loaded, saved.format, saved.input_example)
    assert compare_outputs(saved.output_example, output).matches


def test_single_input_model_takes_a_bare_array(tmp_path: Path):
    saved = save_model(matmul_model(), tmp_path, input_example=[[1.0, 2.0, 4.0]])

    assert saved.signature is not None
    assert [s.name for s in saved.signature.inputs] == ["x"]
    assert saved.output_example == {"y": [[3.0, 4.0]]}
    loaded = load_model(tmp_path, saved.format)
    result = loaded.run(np.ones((2, 3)))  # float64 is cast to the graph's float32
    np.testing.assert_allclose(result["y"], np.ones((2, 3)) @ WEIGHT)


def test_without_an_example_the_graph_still_gives_the_signature(tmp_path: Path):
    saved = save_model(add_model(), tmp_path)
    assert saved.signature is not None
    assert len(saved.signature.inputs) == 2
    assert saved.output_example is None


def test_a_bare_array_for_a_two_input_model_is_refused(tmp_path: Path):
    saved = save_model(add_model(), tmp_path)
    loaded = load_model(tmp_path, saved.format)
    with pytest.raises(InvalidInput, match="several inputs"):
        loaded.run([[1.0, 2.0]])
    with pytest.raises(InvalidInput, match="unknown ONNX inputs"):
        loaded.run({"a": [[1.0, 2.0]], "c": [[1.0, 2.0]]})


def test_an_invalid_graph_is_refused(tmp_path: Path):
    broken = build(
        [helper.make_node("Add", ["a", "missing"], ["sum"])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(InvalidInput, match="not valid"):
        save_model(broken, tmp_path)
    assert list(tmp_path.iterdir()) == []
