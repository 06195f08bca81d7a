"""SQL conditions for one positive comparison of a field's value column.

Every function here type-checks the literals first (``QueryTypeMismatch`` on a wrong
type or an operator the type does not support) and returns a condition that is never
NULL as long as the value column is not NULL, so that NOT inverts it exactly.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, false, or_

from modeldepot.errors import QueryTypeMismatch
from modeldepot.query.nodes import Field, Literal, PositiveOp
from modeldepot.query.pattern import matches, read_glob, read_like
from modeldepot.query.values import (
    RISK_RANK,
    ValueType,
    mismatch,
    number_value,
    risk_value,
    text_value,
    timestamp_value,
)

ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_CONVERTERS: dict[ValueType, Callable[[Field, Literal], Any]] = {
    ValueType.TEXT: text_value,
    ValueType.NUMBER: number_value,
    ValueType.TIMESTAMP: timestamp_value,
    ValueType.RISK: risk_value,
}


def compare(
    column: ColumnElement[Any],
    kind: ValueType,
    field: Field,
    op: PositiveOp,
    op_position: int,
    literals: Sequence[Literal],
    *,
    sqlite: bool,
) -> ColumnElement[bool]:
    """``column op literals`` for a field whose values are all of ``kind``."""
    if op in ("like", "glob"):
        if kind is not ValueType.TEXT:
            raise _unsupported(field, kind, op, op_position)
        return pattern_match(column, field, op, literals[0], sqlite=sqlite)
    if op in ORDERING and kind is ValueType.TEXT:
        raise _unsupported(field, kind, op, op_position)
    values = [_CONVERTERS[kind](field, literal) for literal in literals]
    if op in ORDERING:
        if kind is ValueType.RISK:
            bound = RISK_RANK[values[0]]
            return column.in_([v for v, rank in RISK_RANK.items() if ORDERING[op](rank, bound)])
        ordered: ColumnElement[bool] = ORDERING[op](column, values[0])
        return ordered
    return column == values[0] if len(values) == 1 else column.in_(values)


def compare_param(
    leaves: Table,
    field: Field,
    op: PositiveOp,
    op_position: int,
    literals: Sequence[Literal],
    *,
    sqlite: bool,
) -> ColumnElement[bool]:
    """A condition on a ``version_param_leaves`` row: a number literal compares with
    numeric leaves, a text literal with text leaves, a boolean with boolean leaves."""
    kind, num, text = leaves.c.kind, leaves.c.num, leaves.c.text
    if op in ("like", "glob"):
        return and_(kind == "string", pattern_match(text, field, op, literals[0], sqlite=sqlite))
    if op in ORDERING:
        bound = number_value(field, literals[0])
        return and_(kind == "number", ORDERING[op](num, bound))
    numbers = [v.value for v in literals if _is_number(v.value)]
    texts = [v.value for v in literals if isinstance(v.value, str)]
    booleans = [float(v.value) for v in literals if isinstance(v.value, bool)]
    alternatives = [
        and_(kind == leaf_kind, column == values[0] if len(values) == 1 else column.in_(values))
        for leaf_kind, column, values in (
            ("number", num, numbers),
            ("string", text, texts),
            ("boolean", num, booleans),
        )
        if values
    ]
    return or_(false(), *alternatives)


def pattern_match(
    column: ColumnElement[Any], field: Field, op: PositiveOp, literal: Literal, *, sqlite: bool
) -> ColumnElement[bool]:
    """``column LIKE pattern`` or ``column GLOB pattern``, the same on both databases."""
    if not isinstance(literal.value, str):
        raise mismatch(field, ValueType.TEXT, literal, f" ({op.upper()} needs a text pattern)")
    pattern = read_like(literal.value) if op == "like" else read_glob(literal.value)
    return matches(column, pattern, sqlite=sqlite)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unsupported(field: Field, kind: ValueType, op: str, position: int) -> QueryTypeMismatch:
    needs = (
        f"{op.upper()} at position {position} needs a text field"
        if op in ("like", "glob")
        else f"'{op}' at position {position} compares numbers, timestamps and risk levels"
    )
    return QueryTypeMismatch(
        f"{needs}; {field} is {kind.value}",
        position=position,
        field=str(field),
    )
