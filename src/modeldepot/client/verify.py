"""Compare a model's output with the output recorded for its input example.

Both sides are JSON-like values: nested lists and dicts of numbers, strings, bools and
None (NumPy arrays and tuples are taken as lists). Floats match within tolerance; every
other value, and every shape, must match exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class OutputComparison:
    """``max_abs_diff`` is over every compared number; None if none or the shapes differ."""

    matches: bool
    max_abs_diff: float | None
    detail: str


def compare_outputs(
    expected: Any, actual: Any, *, rtol: float = 1e-5, atol: float = 1e-8
) -> OutputComparison:
    """Whether ``actual`` reproduces ``expected``; ``detail`` names the first difference.

    Numbers match when ``|actual - expected| <= atol + rtol * |expected|`` (NumPy's
    ``isclose`` with ``expected`` as the reference); NaN matches NaN. Integers and bools
    compare exactly, and a bool never equals a number.
    """
    walk = _Walk(rtol, atol)
    walk.compare(expected, actual, "$")
    if walk.structure:
        return OutputComparison(False, None, walk.structure)
    max_diff = walk.max_diff if walk.numbers else None
    if walk.first is None:
        return OutputComparison(True, max_diff, f"{walk.numbers} numbers match")
    detail = f"{walk.mismatches} of {walk.numbers} numbers differ; first {walk.first}"
    return OutputComparison(False, max_diff, detail)


class _Walk:
    def __init__(self, rtol: float, atol: float) -> None:
        self.rtol = rtol
        self.atol = atol
        self.numbers = 0
        self.mismatches = 0
        self.max_diff = 0.0
        self.first: str | None = None  # the first number out of tolerance
        self.structure = ""  # the first difference in shape, type or exact value

    def compare(self, expected: Any, actual: Any, where: str) -> None:
        if self.structure:
            return
        expected, actual = _plain(expected), _plain(actual)
        if isinstance(expected, list) and isinstance(actual, list):
            if len(expected) != len(actual):
                self.structure = f"at {where}: length {len(actual)}, expected {len(expected)}"
                return
            for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
                self.compare(e, a, f"{where}[{i}]")
        elif isinstance(expected, dict) and isinstance(actual, dict):
            if expected.keys() != actual.keys():
                missing = sorted(map(str, expected.keys() - actual.keys()))
                extra = sorted(map(str, actual.keys() - expected.keys()))
                self.structure = f"at {where}: keys missing {missing}, unexpected {extra}"
                return
            for key in expected:
                self.compare(expected[key], actual[key], f"{where}.{key}")
        elif _is_number(expected) and _is_number(actual):
            self._numbers(expected, actual, where)
        elif type(expected) is not type(actual) or expected != actual:
            self.structure = f"at {where}: got {actual!r}, expected {expected!r}"

    def _numbers(self, expected: float, actual: float, where: str) -> None:
        self.numbers += 1
        if math.isnan(expected) or math.isnan(actual):
            close = math.isnan(expected) and math.isnan(actual)
        elif math.isinf(expected) or math.isinf(actual):
            close = expected == actual
            self.max_diff = self.max_diff if close else math.inf
        else:
            diff = abs(actual - expected)
            self.max_diff = max(self.max_diff, float(diff))
            exact = isinstance(expected, int) and isinstance(actual, int)
            close = diff == 0 if exact else diff <= self.atol + self.rtol * abs(expected)
        if not close:
            self.mismatches += 1
            if self.first is None:
                self.first = f"at {where}: got {actual!r}, expected {expected!r}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """Tuples as lists, and NumPy arrays or scalars as Python values."""
    if isinstance(value, tuple):
        return list(value)
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) and not isinstance(value, list | dict) else value
