"""Examples and signatures: model inputs and outputs as JSON, and their dtypes and shapes.

An example crosses the wire as JSON: arrays and tensors become nested lists. A
signature records each tensor's dtype and shape (first dimension free, for batching),
so an example read back can be given to the model as the arrays it was made from.
"""

from __future__ import annotations

import sys
from typing import Any

from modeldepot.client.optional import require
from modeldepot.errors import InvalidInput
from modeldepot.schemas.lineage import Signature, TensorSpec


def infer_signature(input_example: Any, output_example: Any = None) -> Signature:
    """Dtype and shape of each example tensor, the first dimension left free for batching."""
    outputs = [] if output_example is None else _specs(output_example)
    return Signature(inputs=_specs(input_example), outputs=outputs)


def onnx_signature(proto: Any) -> Signature:
    """The graph's inputs (initializers excepted) and outputs; symbolic dimensions → None."""
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in initializers]
    return Signature(
        inputs=[_onnx_spec(v) for v in inputs], outputs=[_onnx_spec(v) for v in proto.graph.output]
    )


def to_json_example(value: Any) -> Any:
    """``value`` with arrays and tensors as nested lists, tuples as lists, keys as strings."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): to_json_example(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_example(v) for v in value]
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return to_json_example(tensor_to_numpy(value))
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray | np.generic):
        if value.dtype.kind in "SmMV":  # bytes, dates, durations, records: no JSON form
            value = value.astype(str)
        plain = value.tolist()
        return to_json_example(plain) if value.dtype.kind == "O" else plain
    raise InvalidInput(f"an example holds a {type(value).__name__}, which has no JSON form")


def from_json(example: Any, specs: list[TensorSpec], as_tensors: bool) -> Any:
    """A JSON example as arrays (or tensors) of the signature's dtypes."""
    if isinstance(example, dict):
        return {
            k: from_json(v, [s for s in specs if s.name == k], as_tensors)
            for k, v in example.items()
        }
    dtype = specs[0].dtype if len(specs) == 1 else None
    if not as_tensors:
        return as_array(require("numpy", "running a model on an example"), example, dtype)
    torch = sys.modules["torch"]
    torch_dtype = getattr(torch, dtype, None) if dtype else None
    try:
        # Without a signature torch's defaults apply (float32 for floats), as in training.
        return torch.tensor(
            example, dtype=torch_dtype if isinstance(torch_dtype, torch.dtype) else None
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"the example is not a regular tensor of {dtype or 'values'}: {exc}"
        ) from exc


def _specs(example: Any) -> list[TensorSpec]:
    if isinstance(example, dict):
        return [_spec(str(name), value) for name, value in example.items()]
    if isinstance(example, tuple) and example and all(map(_is_array, example)):
        return [_spec(None, value) for value in example]
    return [_spec(None, example)]


def _is_array(value: Any) -> bool:
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    return (np is not None and isinstance(value, np.ndarray)) or (
        torch is not None and isinstance(value, torch.Tensor)
    )


def _spec(name: str | None, value: Any) -> TensorSpec:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        shape = tuple(value.shape)
    else:
        array = as_array(require("numpy", "inferring a signature"), value, None)
        dtype = {"U": "str", "S": "bytes"}.get(array.dtype.kind, array.dtype.name)
        shape = array.shape
    return TensorSpec(name=name, dtype=dtype, shape=[None, *shape[1:]] if shape else [])


def _onnx_spec(value_info: Any) -> TensorSpec:
    kind = value_info.type.WhichOneof("value")
    if kind != "tensor_type":
        return TensorSpec(name=value_info.name, dtype=str(kind).removesuffix("_type"))
    onnx = sys.modules["onnx"]
    tensor = value_info.type.tensor_type
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
    except (KeyError, ValueError):  # bfloat16, float8…: no NumPy dtype
        dtype = onnx.TensorProto.DataType.Name(tensor.elem_type).lower()
    shape = None
    if tensor.HasField("shape"):
        shape = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    return TensorSpec(name=value_info.name, dtype=dtype, shape=shape)


def as_array(np: Any, value: Any, dtype: str | None) -> Any:
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"the example is not a regular array of {dtype or 'values'}: {exc}"
        ) from exc


def tensor_to_numpy(tensor: Any) -> Any:
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16 and friends have no NumPy dtype
        return tensor.float().numpy()
