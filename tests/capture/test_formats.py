"""Model format detection (``detect_format``) on real model files, never loading them."""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modeldepot.client import formats
from modeldepot.client.formats import detect_format
from modeldepot.schemas.lineage import FORMATS, FormatInfo


@pytest.fixture(scope="module")
def estimator() -> LogisticRegression:
    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.random((20, 3)), np.arange(20) % 2)


def detect(root: Path) -> FormatInfo | None:
    """Detect as a push would: a file alone, or every file below a directory."""
    if root.is_file():
        return detect_format(root, [root.name])
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return detect_format(root, files)


def version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def write_safetensors(path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"weight": np.zeros((2, 3), dtype=np.float32)}, str(path))


def write_onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    onnx.save(helper.make_model(graph), str(path))


def write_keras(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.4.1"}))
        archive.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))


XGBOOST_JSON = {
    "learner": {
        "attributes": {},
        "feature_names": [],
        "gradient_booster": {"name": "gbtree", "model": {"trees": []}},
        "learner_model_param": {"base_score": "5E-1", "num_class": "0"},
        "objective": {"name": "binary:logistic"},
    },
    "version": [2, 1, 0],
}
LIGHTGBM_TEXT = (
    "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
    "max_feature_idx=2\nobjective=binary sigmoid:1\nfeature_names=a b c\n\n"
    "Tree=0\nnum_leaves=2\nsplit_feature=0\nthreshold=0.5\n\nend of trees\n"
)


def test_sklearn_pickle(tmp_path: Path, estimator: LogisticRegression) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(estimator))
    assert detect(path) == FormatInfo(
        name="sklearn",
        framework="scikit-learn",
        framework_version=metadata.version("scikit-learn"),
        path="model.pkl",
    )


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_sklearn_pickle_of_every_protocol(
    tmp_path: Path, estimator: LogisticRegression, protocol: int
) -> None:
    path = tmp_path / "model.pickle"
    path.write_bytes(pickle.dumps({"model": estimator}, protocol=protocol))
    info = detect(path)
    assert info is not None and info.name == "sklearn"


def test_plain_pickle(tmp_path: Path) -> None:
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0], "bias": 0.5}))
    assert detect(path) == FormatInfo(name="pickle", path="weights.pkl")


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_sklearn_joblib(tmp_path: Path, estimator: LogisticRegression, compress: object) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(estimator, path, compress=compress)
    assert detect(path) == FormatInfo(
        name="joblib",
        framework="scikit-learn",
        framework_version=metadata.version("scikit-learn"),
        path="model.joblib",
    )


def test_joblib_of_something_else(tmp_path: Path) -> None:
    path = tmp_path / "lookup.joblib"
    joblib.dump({"a": 1}, path)
    assert detect(path) == FormatInfo(
        name="joblib",
        framework="joblib",
        framework_version=metadata.version("joblib"),
        path="lookup.joblib",
    )


def test_skops(tmp_path: Path, estimator: LogisticRegression) -> None:
    import skops.io

    path = tmp_path / "model.skops"
    skops.io.dump(estimator, path)
    info = detect(path)
    assert info is not None and (info.name, info.framework) == ("skops", "scikit-learn")


def test_pytorch_state_dict(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    assert detect(path) == FormatInfo(
        name="pytorch",
        framework="torch",
        framework_version=metadata.version("torch"),
        path="model.pt",
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "scripted.pth"
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), str(path))
    info = detect(path)
    assert info is not None and info.name == "pytorch"


def test_bin_that_is_not_pytorch_is_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 8)
    assert detect(path) is None
    with zipfile.ZipFile(tmp_path / "archive.pt", "w") as archive:
        archive.writestr("readme.txt", "not a checkpoint")
    assert detect(tmp_path / "archive.pt") is None


def test_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    write_safetensors(path)
    assert detect(path) == FormatInfo(
        name="safetensors",
        framework="safetensors",
        framework_version=metadata.version("safetensors"),
        path="weights.safetensors",
    )


def test_safetensors_name_on_other_bytes_is_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_text("hello")
    assert detect(path) is None


def test_onnx(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    write_onnx(path)
    assert detect(path) == FormatInfo(
        name="onnx",
        framework="onnx",
        framework_version=metadata.version("onnx"),
        path="model.onnx",
    )


def test_empty_onnx_is_not_recognised(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"")
    assert detect(tmp_path / "model.onnx") is None


def test_huggingface_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "tokenizer.json").write_text("{}")
    write_safetensors(tmp_path / "model.safetensors")
    assert detect(tmp_path) == FormatInfo(
        name="huggingface",
        framework="transformers",
        framework_version=version("transformers"),
        path=".",
    )


@pytest.mark.parametrize(
    "weights",
    [
        ["pytorch_model.bin"],
        ["tf_model.h5"],
        ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"],
        ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"],
    ],
)
def test_huggingface_weights(tmp_path: Path, weights: list[str]) -> None:
    (tmp_path / "config.json").write_text("{}")
    for name in weights:
        (tmp_path / name).write_bytes(b"weights")
    info = detect(tmp_path)
    assert info is not None and (info.name, info.path) == ("huggingface", ".")


def test_huggingface_directory_below_the_root(tmp_path: Path) -> None:
    (tmp_path / "checkpoints" / "final").mkdir(parents=True)
    (tmp_path / "checkpoints" / "final" / "config.json").write_text("{}")
    write_safetensors(tmp_path / "checkpoints" / "final" / "model.safetensors")
    info = detect(tmp_path)
    assert info is not None and (info.name, info.path) == ("huggingface", "checkpoints/final")


def test_config_json_alone_is_not_huggingface(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    write_onnx(tmp_path / "model.onnx")
    info = detect(tmp_path)
    assert info is not None and info.name == "onnx"


def test_keras_archive_and_h5(tmp_path: Path) -> None:
    write_keras(tmp_path / "model.keras")
    (tmp_path / "legacy.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(512))
    for name in ("model.keras", "legacy.h5"):
        assert detect(tmp_path / name) == FormatInfo(
            name="keras", framework="keras", framework_version=version("keras"), path=name
        )


def test_keras_names_on_other_bytes_are_not_recognised(tmp_path: Path) -> None:
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 but not really a zip")
    (tmp_path / "data.h5").write_bytes(b"not hdf5")
    assert detect(tmp_path) is None


def test_xgboost_json_and_ubjson(tmp_path: Path) -> None:
    (tmp_path / "booster.json").write_text(json.dumps(XGBOOST_JSON))
    assert detect(tmp_path / "booster.json") == FormatInfo(
        name="xgboost",
        framework="xgboost",
        framework_version=version("xgboost"),
        path="booster.json",
    )
    (tmp_path / "booster.ubj").write_bytes(b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner{}}")
    info = detect(tmp_path / "booster.ubj")
    assert info is not None and info.name == "xgboost"


def test_json_without_learner_is_not_xgboost(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
    assert detect(tmp_path) is None


@pytest.mark.parametrize("name", ["model.txt", "booster.lgb", "model"])
def test_lightgbm_text_model(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(LIGHTGBM_TEXT)
    assert detect(tmp_path / name) == FormatInfo(
        name="lightgbm", framework="lightgbm", framework_version=version("lightgbm"), path=name
    )


def test_text_that_merely_starts_with_tree_is_not_lightgbm(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("tree\nof life, a poem\n")
    assert detect(tmp_path) is None


def test_nothing_recognised(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# hello\n")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    assert detect(tmp_path) is None
    assert detect_format(tmp_path, []) is None


def test_most_specific_format_wins(tmp_path: Path, estimator: LogisticRegression) -> None:
    (tmp_path / "features.pkl").write_bytes(pickle.dumps({"columns": ["a", "b"]}))
    write_safetensors(tmp_path / "embedding.safetensors")
    write_onnx(tmp_path / "model.onnx")
    info = detect(tmp_path)
    assert info is not None and info.name == "onnx"
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(estimator))
    info = detect(tmp_path)
    assert info is not None and (info.name, info.path) == ("sklearn", "model.pkl")


def test_ties_go_to_the_shallowest_then_first_path(tmp_path: Path) -> None:
    (tmp_path / "deep").mkdir()
    for name in ("b.onnx", "a.onnx", "deep/0.onnx"):
        write_onnx(tmp_path / name)
    files = ["deep/0.onnx", "b.onnx", "a.onnx"]
    found = [detect_format(tmp_path, order) for order in (files, files[::-1])]
    assert [info.path if info else None for info in found] == ["a.onnx", "a.onnx"]


def test_pickles_are_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "executed"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Exploit()))
    info = detect(path)
    assert info is not None and info.name == "pickle"
    assert not marker.exists()


def test_only_the_first_megabyte_of_a_pickle_is_read(
    tmp_path: Path, estimator: LogisticRegression
) -> None:
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps([b"\0" * (2 * formats.PICKLE_BYTES), estimator], protocol=5))
    info = detect(path)
    assert info is not None and info.name == "pickle"


def test_unreadable_files_are_skipped(tmp_path: Path) -> None:
    write_onnx(tmp_path / "model.onnx")
    info = detect_format(tmp_path, ["gone.pkl", "model.onnx"])
    assert info is not None and info.name == "onnx"


def test_sniffing_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        (tmp_path / f"notes{i}.txt").write_text("plain text\n")
    (tmp_path / "z.txt").write_text(LIGHTGBM_TEXT)
    assert detect(tmp_path) is not None
    monkeypatch.setattr(formats, "MAX_SNIFFED_FILES", 3)
    assert detect(tmp_path) is None


def test_specific_extensions_are_sniffed_before_guesses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        (tmp_path / f"{i}.txt").write_text("plain text\n")
    (tmp_path / "sub").mkdir()
    write_onnx(tmp_path / "sub" / "model.onnx")
    monkeypatch.setattr(formats, "MAX_SNIFFED_FILES", 1)
    info = detect(tmp_path)
    assert info is not None and info.path == "sub/model.onnx"


def test_every_format_is_a_wire_format() -> None:
    assert set(formats.PRIORITY) <= set(FORMATS)
    assert set(formats.FRAMEWORKS) == set(formats.PRIORITY)


def test_header_sizes_of_safetensors_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", 0) + b"{}")
    assert detect(path) is None
