"""What save_model and load_model refuse: unknown objects, pickles, stray paths."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch

from modeldepot.client.serialize import load_model, save_model, to_json_example
from modeldepot.errors import InvalidInput, PathInvalid
from modeldepot.schemas.lineage import FormatInfo


class Plain:
    def predict(self, x):
        return x


def test_unsupported_object_names_the_supported_kinds(tmp_path: Path):
    with pytest.raises(InvalidInput, match=r"scikit-learn.*torch.*onnx.*push the directory"):
        save_model(Plain(), tmp_path)


def test_directory_must_be_empty(tmp_path: Path):
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(InvalidInput, match="empty directory"):
        save_model({"w": torch.ones(1)}, tmp_path)


@pytest.mark.parametrize("name", ["pickle", "joblib", "sklearn", "pytorch"])
def test_pickles_are_refused_without_allow_pickle(tmp_path: Path, name: str):
    (tmp_path / "model.bin").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InvalidInput, match="arbitrary code"):
        load_model(tmp_path, FormatInfo(name=name, path="model.bin"))


def test_pickles_load_with_allow_pickle(tmp_path: Path):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"a": 1}))
    joblib.dump([1, 2], tmp_path / "model.joblib")
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")

    def load(name, path):
        return load_model(tmp_path, FormatInfo(name=name, path=path), allow_pickle=True)

    assert load("pickle", "model.pkl") == {"a": 1}
    assert load("joblib", "model.joblib") == [1, 2]
    assert torch.equal(load("pytorch", "model.pt")["w"], torch.ones(2))


def test_pickles_need_a_path(tmp_path: Path):
    with pytest.raises(InvalidInput, match="needs a path"):
        load_model(tmp_path, FormatInfo(name="pickle"), allow_pickle=True)


def test_formats_without_a_loader_are_refused(tmp_path: Path):
    with pytest.raises(InvalidInput, match="cannot load the 'keras' format"):
        load_model(tmp_path, FormatInfo(name="keras", path="model.keras"))


def test_paths_outside_the_directory_are_refused(tmp_path: Path):
    with pytest.raises(PathInvalid):
        load_model(tmp_path / "m", FormatInfo(name="skops", path="../model.skops"))
    with pytest.raises(PathInvalid):
        load_model(tmp_path, FormatInfo(name="onnx", path="/etc/passwd"))


def test_missing_file_is_reported(tmp_path: Path):
    with pytest.raises(InvalidInput, match="does not exist"):
        load_model(tmp_path, FormatInfo(name="onnx"))


def test_a_missing_optional_package_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "skops.io", None)  # makes the import fail
    (tmp_path / "model.skops").write_bytes(b"")
    with pytest.raises(InvalidInput, match=r"needs the 'skops' package: pip install skops"):
        load_model(tmp_path, FormatInfo(name="skops"))


def test_examples_become_json():
    value = {
        1: (np.float32(0.5), np.array([[1, 2]], dtype=np.int8)),
        "t": torch.tensor([1.5], dtype=torch.bfloat16),
        "s": np.array([b"ab"]),
        "o": np.array([{"k": np.int64(3)}], dtype=object),
    }
    assert to_json_example(value) == {
        "1": [0.5, [[1, 2]]],
        "t": [1.5],
        "s": ["ab"],
        "o": [{"k": 3}],
    }
    with pytest.raises(InvalidInput, match="no JSON form"):
        to_json_example({"x": object()})
