"""torch models become safetensors; a module comes back only from an imported class."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from modeldepot.client.serialize import load_model, predict, save_model
from modeldepot.client.verify import compare_outputs
from modeldepot.errors import InvalidInput
from modeldepot.schemas.lineage import FormatInfo, TensorSpec

EXAMPLE = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], dtype=np.float32)


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.linear(x)).softmax(dim=-1)


class NeedsWidth(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(3, width)

    def forward(self, x):
        return self.linear(x)


def tiny() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


def test_module_round_trip_rebuilds_the_module_and_reproduces_output(tmp_path: Path):
    module = tiny()
    saved = save_model(module, tmp_path, input_example=EXAMPLE)

    assert saved.files == ["model.safetensors", "modeldepot.json"]
    assert saved.format == FormatInfo(
        name="safetensors",
        framework="torch",
        framework_version=torch.__version__,
        path="model.safetensors",
    )
    assert module.training, "saving restores the training mode"
    json.dumps([saved.input_example, saved.output_example])
    assert saved.signature is not None
    assert saved.signature.inputs == [TensorSpec(dtype="float32", shape=[None, 3])]
    assert saved.signature.outputs == [TensorSpec(dtype="float32", shape=[None, 2])]

    loaded = load_model(tmp_path, saved.format)
    assert isinstance(loaded, TinyNet)
    assert not loaded.training
    output = predict(loaded, saved.format, saved.input_example, signature=saved.signature)
    assert compare_outputs(saved.output_example, output).matches
    # Without a signature torch's float32 default applies.
    assert compare_outputs(
        saved.output_example, predict(loaded, saved.format, EXAMPLE.tolist())
    ).matches


def test_class_needing_arguments_falls_back_to_the_state_dict(tmp_path: Path):
    module = NeedsWidth(4)
    saved = save_model(module, tmp_path)

    with pytest.warns(UserWarning, match="NeedsWidth"):
        loaded = load_model(tmp_path, saved.format)
    assert set(loaded) == {"linear.weight", "linear.bias"}
    assert torch.equal(loaded["linear.weight"], module.linear.weight)
    with pytest.raises(InvalidInput, match="state dict cannot be run"):
        predict(loaded, saved.format, EXAMPLE.tolist())


def test_class_from_a_module_not_imported_is_never_imported(tmp_path: Path):
    saved = save_model(tiny(), tmp_path)
    sidecar = tmp_path / "modeldepot.json"
    sidecar.write_text(json.dumps({"torch_module": "antigravity:Thing"}))

    loaded = load_model(tmp_path, saved.format)
    assert isinstance(loaded, dict)
    assert "antigravity" not in sys.modules


def test_local_class_falls_back_to_the_state_dict(tmp_path: Path):
    class Local(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(2))

    saved = save_model(Local(), tmp_path)
    loaded = load_model(tmp_path, saved.format)
    assert set(loaded) == {"scale"}


def test_state_dict_with_shared_tensors_round_trips(tmp_path: Path):
    weight = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    state = {
        "encoder.weight": weight,
        "decoder.weight": weight,  # tied
        "first_row": weight[0],  # a view into the same storage
        "transposed": weight.t(),  # not contiguous
    }
    saved = save_model(state, tmp_path)

    assert saved.files == ["model.safetensors"]
    assert saved.signature is None
    loaded = load_model(tmp_path, saved.format)
    assert set(loaded) == set(state)
    for key, tensor in state.items():
        assert torch.equal(loaded[key], tensor), key


def test_empty_or_mixed_dicts_are_not_state_dicts(tmp_path: Path):
    with pytest.raises(InvalidInput, match=r"cannot save a builtins\.dict"):
        save_model({}, tmp_path)
    with pytest.raises(InvalidInput, match="cannot save"):
        save_model({"w": torch.ones(1), "step": 3}, tmp_path)
