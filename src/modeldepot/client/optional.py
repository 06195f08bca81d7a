"""Optional dependencies (scikit-learn, PyTorch, ONNX …), imported when first needed."""

from __future__ import annotations

import importlib
from typing import Any

from modeldepot.errors import InvalidInput


def require(module: str, purpose: str, *, package: str | None = None) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = package or module.split(".", 1)[0]
        raise InvalidInput(
            f"{purpose} needs the {package!r} package: pip install {package}"
        ) from exc
