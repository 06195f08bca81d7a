"""Validation of descriptions, tags, params and metrics: bounded and typed.

Tags are ``key: string``. Params are typed scalars (string, integer, float, boolean)
or JSON objects and lists of them.
Metrics are finite floats. Every bound is here, so the API, SDK and CLI agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from modeldepot.errors import InvalidInput, MetadataInvalid, MetadataTooLarge

MAX_DESCRIPTION = 10_000
MAX_KEY = 128
MAX_TAG_VALUE = 1_000
MAX_PARAM_STRING = 5_000
MAX_TAGS = 200
MAX_PARAMS = 2_000
MAX_METRICS = 2_000
MAX_PARAM_DEPTH = 8
MAX_PARAM_LEAVES = 10_000
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$")

Scalar = str | int | float | bool


def check_description(description: str | None) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise MetadataInvalid("description must be a string")
    if len(description) > MAX_DESCRIPTION:
        raise MetadataTooLarge(f"description is longer than {MAX_DESCRIPTION} characters")
    _check_no_nul("description", description)
    return description


def check_key(kind: str, key: str) -> str:
    if not isinstance(key, str) or not key:
        raise MetadataInvalid(f"{kind} key is empty")
    if len(key) > MAX_KEY:
        raise MetadataTooLarge(f"{kind} key {key[:40]!r}… is longer than {MAX_KEY} characters")
    if not _KEY.fullmatch(key):
        raise MetadataInvalid(
            f"{kind} key {key!r} may contain only letters, digits and '_', '.', ':', '/', '-'"
        )
    return key


def check_tag_value(key: str, value: str) -> str:
    if not isinstance(value, str):
        raise MetadataInvalid(f"tag {key!r}: value must be a string")
    if len(value) > MAX_TAG_VALUE:
        raise MetadataTooLarge(f"tag {key!r}: value is longer than {MAX_TAG_VALUE} characters")
    _check_no_nul(f"tag {key!r}", value)
    return value


def check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    tags = dict(tags or {})
    if len(tags) > MAX_TAGS:
        raise MetadataTooLarge(f"at most {MAX_TAGS} tags")
    return {check_key("tag", k): check_tag_value(k, v) for k, v in tags.items()}


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Params are the configuration: scalars, or JSON objects and lists nested in them.

    Keys at the top follow tag-key rules; every scalar leaf is checked like a scalar
    param. Bounded in depth (MAX_PARAM_DEPTH) and in leaves (MAX_PARAM_LEAVES).
    """
    params = dict(params or {})
    if len(params) > MAX_PARAMS:
        raise MetadataTooLarge(f"at most {MAX_PARAMS} params")
    leaves = [0]
    for key, value in params.items():
        check_key("param", key)
        _check_param_value(key, value, 1, leaves)
    return params


def _check_param_value(path: str, value: Any, depth: int, leaves: list[int]) -> None:
    if depth > MAX_PARAM_DEPTH:
        raise MetadataTooLarge(f"param {path!r}: nested deeper than {MAX_PARAM_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key or len(key) > MAX_KEY:
                raise MetadataInvalid(f"param {path!r}: keys must be 1-{MAX_KEY} characters")
            _check_no_nul(f"param {path!r}", key)
            _check_param_value(f"{path}.{key}", item, depth + 1, leaves)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_param_value(f"{path}.{index}", item, depth + 1, leaves)
        return
    leaves[0] += 1
    if leaves[0] > MAX_PARAM_LEAVES:
        raise MetadataTooLarge(f"params hold more than {MAX_PARAM_LEAVES} values")
    if isinstance(value, str):
        if len(value) > MAX_PARAM_STRING:
            raise MetadataTooLarge(f"param {path!r}: value is longer than {MAX_PARAM_STRING}")
        _check_no_nul(f"param {path!r}", value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MetadataInvalid(f"param {path!r}: value must be finite, got {value}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not MIN_INT <= value <= MAX_INT:
            raise MetadataInvalid(f"param {path!r}: integer is outside the 64-bit range")
    elif not isinstance(value, bool):
        raise MetadataInvalid(
            f"param {path!r}: value must be a string, number, boolean, object or list, "
            f"got {type(value).__name__}"
        )


def param_leaves(params: Mapping[str, Any]) -> Iterator[tuple[str, Scalar]]:
    """Every scalar leaf of checked params with its dotted path (list items by index)."""
    stack: list[tuple[str, Any]] = list(reversed(params.items()))
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed([(f"{path}.{k}", v) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}.{i}", v) for i, v in enumerate(value)]))
        else:
            yield path, value


def check_metrics(metrics: Mapping[str, float] | None) -> dict[str, float]:
    metrics = dict(metrics or {})
    if len(metrics) > MAX_METRICS:
        raise MetadataTooLarge(f"at most {MAX_METRICS} metrics")
    out: dict[str, float] = {}
    for key, value in metrics.items():
        check_key("metric", key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MetadataInvalid(f"metric {key!r}: value must be a number")
        try:
            number = float(value)
        except OverflowError:
            raise MetadataInvalid(f"metric {key!r}: value is out of range") from None
        if not math.isfinite(number):
            raise MetadataInvalid(f"metric {key!r}: value must be finite, got {value}")
        out[key] = number
    return out


def reject_nul(what: str, text: str, error: type[InvalidInput] = InvalidInput) -> str:
    """``text``, unless it holds a NUL: PostgreSQL text cannot, and no sane input needs
    one, so it is refused everywhere (with ``error``)."""
    if "\x00" in text:
        raise error(f"{what} contains a NUL character")
    return text


def _check_no_nul(what: str, text: str) -> None:
    reject_nul(what, text, MetadataInvalid)


def parse_scalar(text: str) -> Scalar:
    """Interpret a CLI ``key=value`` value: integer, float, true/false, else string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if text != text.strip() or "_" in text:
        return text
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text
