"""Save in-memory models to files, load them back, and run them on JSON examples.

Supported objects and the files they become::

    scikit-learn estimator or pipeline  → model.skops        (skops)
    torch.nn.Module or dict of tensors  → model.safetensors  (safetensors)
                                          + modeldepot.json   (the module's class)
    onnx.ModelProto                     → model.onnx         (onnx)

Loading never runs code chosen by the files: skops types outside scikit-learn, NumPy,
SciPy and builtins must be trusted by name, a module is rebuilt only from a class the
caller has already imported, and pickle-based formats need ``allow_pickle=True``.
Every ML library is optional and imported only when a model needs it.
"""

from __future__ import annotations

import json
import pickle
import pkgutil
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldepot.client.examples import (
    as_array,
    from_json,
    infer_signature,
    onnx_signature,
    to_json_example,
)
from modeldepot.client.optional import require
from modeldepot.errors import InvalidInput
from modeldepot.manifest import normalize_path
from modeldepot.schemas.lineage import FormatInfo, ModelFormat, Signature

SIDECAR = "modeldepot.json"
DEFAULT_PATHS = {"skops": "model.skops", "safetensors": "model.safetensors", "onnx": "model.onnx"}
# Classes from these packages may be loaded from a skops file without being named by the
# caller; functions never are (FunctionTransformer(func=eval) would run eval on predict).
AUTO_TRUSTED_PACKAGES = frozenset({"sklearn", "numpy", "scipy", "builtins"})
PICKLED_FORMATS = frozenset({"pickle", "joblib", "pytorch", "sklearn"})


@dataclass(frozen=True, slots=True)
class SavedModel:
    """What ``save_model`` wrote: examples are JSON-serialisable, ``files`` relative paths."""

    format: FormatInfo
    signature: Signature | None
    input_example: Any
    output_example: Any
    files: list[str]


class OnnxModel:
    """An ONNX model ready to run: ``proto`` is the ModelProto, ``session`` runs it."""

    def __init__(self, proto: Any, session: Any) -> None:
        self.proto = proto
        self.session = session
        self.signature = onnx_signature(proto)

    def run(self, inputs: Any) -> dict[str, Any]:
        """Run on {input name: array-like}, or one array-like for a single-input model.

        Inputs are cast to the graph's dtypes; the result maps output names to arrays.
        """
        np = require("numpy", "running an ONNX model")
        specs = self.signature.inputs
        if not isinstance(inputs, dict):
            if len(specs) != 1:
                names = ", ".join(str(s.name) for s in specs)
                raise InvalidInput(f"this ONNX model takes several inputs ({names}); pass a dict")
            inputs = {specs[0].name: inputs}
        dtypes = {s.name: s.dtype for s in specs}
        unknown = sorted(set(inputs) - set(dtypes))
        if unknown:
            raise InvalidInput(f"unknown ONNX inputs {unknown}; the model takes {sorted(dtypes)}")
        feed = {name: as_array(np, value, dtypes[name]) for name, value in inputs.items()}
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, feed), strict=True))

    __call__ = run


def save_model(obj: Any, directory: Path, *, input_example: Any = None) -> SavedModel:
    """Write ``obj`` into the empty (or missing) ``directory``; see the module docstring.

    The model is run on ``input_example`` first, so a failing example writes nothing.
    Raises InvalidInput for an unsupported object, a non-empty directory, a missing
    optional package or an example the model cannot run on.
    """
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InvalidInput(f"{directory} must be an empty directory")
    save = _saver_for(obj)
    output_example: Any = None
    signature: Signature | None = None
    if input_example is not None:
        output_example = _run_example(obj, input_example)
        signature = infer_signature(input_example, output_example)
    if save is _save_onnx:
        signature = onnx_signature(obj)
    examples = to_json_example(input_example), to_json_example(output_example)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        info, files = save(obj, directory)
    except BaseException:
        for child in directory.iterdir():  # it was empty: everything here is ours
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        raise
    return SavedModel(info, signature, *examples, files)


def load_model(
    directory: Path, format: FormatInfo, *, allow_pickle: bool = False, trust: Sequence[str] = ()
) -> Any:
    """Load the model ``format`` describes from ``directory``.

    Gives a scikit-learn object (skops), a torch module or state dict (safetensors), an
    ``OnnxModel`` (onnx), or, with ``allow_pickle=True`` only, whatever a pickle holds.
    ``trust`` names extra skops types to accept. Raises InvalidInput instead of loading
    anything that could run code the caller did not choose.
    """
    loader = _LOADERS.get(format.name)
    if loader is None:
        raise InvalidInput(
            f"cannot load the {format.name!r} format (supported: {', '.join(sorted(_LOADERS))});"
            " load the pulled files with the framework itself"
        )
    if format.name in PICKLED_FORMATS and not allow_pickle:
        raise InvalidInput(
            f"the {format.name!r} format is a pickle, and loading a pickle runs arbitrary code"
            " from the file; pass allow_pickle=True only if you trust whoever wrote it"
        )
    relative = format.path or DEFAULT_PATHS.get(format.name)
    if relative is None:
        raise InvalidInput(f"the {format.name!r} format needs a path to the model file")
    path = Path(directory) / normalize_path(relative)
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist")
    return loader(path, format, tuple(trust))


def predict(
    model: Any, format: FormatInfo, input_example: Any, *, signature: Signature | None = None
) -> Any:
    """Run a loaded ``model`` on a JSON ``input_example``; the output is JSON-serialisable.

    Inputs are cast to the dtypes of ``signature`` when given (and of the graph for ONNX).
    """
    if format.name == "onnx" or isinstance(model, OnnxModel):
        if not isinstance(model, OnnxModel):
            raise InvalidInput("an ONNX model must be loaded with load_model before predict")
        return to_json_example(model.run(input_example))
    if _is_state_dict(model):
        raise InvalidInput(
            "a state dict cannot be run: import the module's class before load_model so that"
            " the module is rebuilt, or load the state dict into your module yourself"
        )
    specs = signature.inputs if signature is not None else []
    torch = sys.modules.get("torch")
    as_tensors = torch is not None and isinstance(model, torch.nn.Module)
    return to_json_example(_run_example(model, from_json(input_example, specs, as_tensors)))


def _saver_for(obj: Any) -> Callable[[Any, Path], tuple[FormatInfo, list[str]]]:
    sklearn_base = sys.modules.get("sklearn.base")
    if type(obj).__module__.startswith("sklearn.") or (
        sklearn_base is not None and isinstance(obj, sklearn_base.BaseEstimator)
    ):
        return _save_skops
    torch = sys.modules.get("torch")
    if torch is not None and (isinstance(obj, torch.nn.Module) or _is_state_dict(obj)):
        return _save_safetensors
    onnx = sys.modules.get("onnx")
    if onnx is not None and isinstance(obj, onnx.ModelProto):
        return _save_onnx
    raise InvalidInput(
        f"cannot save a {type(obj).__module__}.{type(obj).__qualname__}: save_model takes a"
        " scikit-learn estimator, a torch.nn.Module or dict of tensors, or an onnx.ModelProto;"
        " write other models to files yourself and push the directory"
    )


def _save_skops(obj: Any, directory: Path) -> tuple[FormatInfo, list[str]]:
    sio = require("skops.io", "saving a scikit-learn model", package="skops")
    sio.dump(obj, directory / DEFAULT_PATHS["skops"])
    info = _format("skops", "scikit-learn", sys.modules["sklearn"].__version__)
    return info, [DEFAULT_PATHS["skops"]]


def _save_safetensors(obj: Any, directory: Path) -> tuple[FormatInfo, list[str]]:
    torch = sys.modules["torch"]
    st = require("safetensors.torch", "saving a torch model", package="safetensors")
    is_module = isinstance(obj, torch.nn.Module)
    state = obj.state_dict() if is_module else obj
    if not state:
        raise InvalidInput("the model has no tensors to save")
    st.save_file(_unshared(state), directory / DEFAULT_PATHS["safetensors"])
    files = [DEFAULT_PATHS["safetensors"]]
    if is_module:
        cls = type(obj)
        sidecar = {"torch_module": f"{cls.__module__}:{cls.__qualname__}"}
        (directory / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
        files.append(SIDECAR)
    return _format("safetensors", "torch", torch.__version__), files


def _save_onnx(obj: Any, directory: Path) -> tuple[FormatInfo, list[str]]:
    onnx = sys.modules["onnx"]
    try:
        onnx.checker.check_model(obj)
    except onnx.checker.ValidationError as exc:
        raise InvalidInput(f"the ONNX model is not valid: {exc}") from exc
    onnx.save(obj, directory / DEFAULT_PATHS["onnx"])
    return _format("onnx", "onnx", onnx.__version__), [DEFAULT_PATHS["onnx"]]


def _format(name: ModelFormat, framework: str, version: str) -> FormatInfo:
    return FormatInfo(
        name=name, framework=framework, framework_version=version, path=DEFAULT_PATHS[name]
    )


def _load_skops(path: Path, format: FormatInfo, trust: tuple[str, ...]) -> Any:
    sio = require("skops.io", "loading a skops model", package="skops")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a damaged zip or a schema this skops cannot read
        raise InvalidInput(f"{path.name} is not a readable skops file: {exc}") from exc
    refused = [t for t in untrusted if t not in trust and not _auto_trusted(t)]
    if refused:
        raise InvalidInput(
            f"{path.name} holds types that are not trusted: {', '.join(refused)}; loading them"
            " could run their code. Pass trust=[…] with the names you have checked",
            untrusted_types=refused,
        )
    return sio.load(path, trusted=untrusted)


def _load_safetensors(path: Path, format: FormatInfo, trust: tuple[str, ...]) -> Any:
    torch = require("torch", "loading a safetensors model")
    st = require("safetensors.torch", "loading a safetensors model", package="safetensors")
    state = st.load_file(path)
    sidecar = path.parent / SIDECAR
    if not sidecar.is_file():
        return state
    try:
        target = json.loads(sidecar.read_text()).get("torch_module")
    except (ValueError, AttributeError):
        target = None  # a damaged sidecar only costs the rebuild
    cls = _imported_class(target) if isinstance(target, str) else None
    if cls is None or not issubclass(cls, torch.nn.Module):
        return state
    try:
        module = cls()
        module.load_state_dict(state)
    except Exception as exc:  # a changed class or one that needs arguments: give the tensors
        warnings.warn(f"cannot rebuild {target} ({exc}); returning the state dict", stacklevel=3)
        return state
    return module.eval()


def _load_onnx(path: Path, format: FormatInfo, trust: tuple[str, ...]) -> OnnxModel:
    onnx = require("onnx", "loading an ONNX model")
    ort = require("onnxruntime", "loading an ONNX model")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return OnnxModel(onnx.load(path), session)


def _load_pickled(path: Path, format: FormatInfo, trust: tuple[str, ...]) -> Any:
    if format.name == "pytorch":
        return require("torch", "loading a pytorch model").load(path, weights_only=False)
    if format.name == "pickle":
        with path.open("rb") as fileobj:
            return pickle.load(fileobj)
    return require("joblib", f"loading a {format.name} model").load(path)


_LOADERS: dict[str, Callable[[Path, FormatInfo, tuple[str, ...]], Any]] = {
    "skops": _load_skops,
    "safetensors": _load_safetensors,
    "onnx": _load_onnx,
    **dict.fromkeys(PICKLED_FORMATS, _load_pickled),
}


def _run_example(model: Any, example: Any) -> Any:
    """The model's output on ``example``: predict/transform, a torch forward, or ONNX."""
    if isinstance(model, OnnxModel):
        return model.run(example)
    onnx = sys.modules.get("onnx")
    torch = sys.modules.get("torch")
    try:
        if onnx is not None and isinstance(model, onnx.ModelProto):
            ort = require("onnxruntime", "running an ONNX model on the input example")
            session = ort.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
            return OnnxModel(model, session).run(example)
        if torch is not None and isinstance(model, torch.nn.Module):
            return _torch_forward(torch, model, example)
        if _is_state_dict(model):
            return None
        for method in ("predict", "transform"):
            if callable(getattr(model, method, None)):
                result = getattr(model, method)(example)
                # scipy.sparse results (one-hot encoders) have no JSON form of their own.
                return result.toarray() if callable(getattr(result, "toarray", None)) else result
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"running the model on the input example failed: {exc}") from exc
    raise InvalidInput(f"a {type(model).__name__} has neither predict nor transform")


def _torch_forward(torch: Any, module: Any, example: Any) -> Any:
    def tensor(value: Any) -> Any:
        return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            if isinstance(example, dict):
                return module(**{k: tensor(v) for k, v in example.items()})
            return module(tensor(example))
    finally:
        module.train(was_training)


def _unshared(state: dict[str, Any]) -> dict[str, Any]:
    """Contiguous CPU tensors, each with its own storage, as safetensors requires."""
    seen: set[int] = set()
    tensors = {}
    for key, value in state.items():
        tensor = value.detach().cpu()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen:  # tied weights or views of one buffer
            tensor = tensor.clone()
        seen.add(pointer)
        tensors[key] = tensor.contiguous()
    return tensors


def _is_state_dict(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return (
        torch is not None
        and isinstance(obj, dict)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def _auto_trusted(name: str) -> bool:
    """Whether the skops type ``name`` is a class that really lives in a trusted package."""
    if name.split(".", 1)[0] not in AUTO_TRUSTED_PACKAGES:
        return False
    try:
        obj = pkgutil.resolve_name(name)
    except Exception:
        return False
    # Checking where the object lives defeats names that reach it through a re-export.
    home = str(getattr(obj, "__module__", None)).split(".", 1)[0]
    return isinstance(obj, type) and home in AUTO_TRUSTED_PACKAGES


def _imported_class(target: str) -> Any:
    """The class ``module:qualname`` if its module is already imported (never imports)."""
    module_name, _, qualname = target.partition(":")
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) else None
