"""Literal values checked against the type of the field they are compared with.

Each ``*_value`` function returns the value in the form the database compares, or
raises ``QueryTypeMismatch`` naming the field, the literal and its position.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

from modeldepot.errors import QueryTypeMismatch
from modeldepot.query.nodes import Field, Literal, Value
from modeldepot.schemas.models import RISK_LEVELS


class ValueType(Enum):
    TEXT = "text"
    NUMBER = "a number"
    TIMESTAMP = "a timestamp"
    RISK = "a risk level"
    PARAM = "a param"  # number, text or boolean, whichever the literal is


RISK_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}
"""Risk levels in order of severity: ``risk >= high`` means high or unacceptable."""


def describe(value: Value) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the text {value!r}"


def mismatch(field: Field, kind: ValueType, literal: Literal, hint: str = "") -> QueryTypeMismatch:
    return QueryTypeMismatch(
        f"{field} is {kind.value}; it cannot be compared with {describe(literal.value)} "
        f"at position {literal.position}{hint}",
        position=literal.position,
        field=str(field),
    )


def text_value(field: Field, literal: Literal) -> str:
    if isinstance(literal.value, str):
        return literal.value
    raise mismatch(field, ValueType.TEXT, literal, f' (quote it: "{_written(literal)}")')


def number_value(field: Field, literal: Literal) -> int | float:
    value = literal.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise mismatch(field, ValueType.NUMBER, literal)


def timestamp_value(field: Field, literal: Literal) -> datetime:
    """An ISO 8601 date or time; one without a zone is UTC, a date alone is midnight UTC."""
    if not isinstance(literal.value, str):
        raise mismatch(field, ValueType.TIMESTAMP, literal, ' (quote it: "2026-03-03")')
    try:
        moment = datetime.fromisoformat(literal.value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise QueryTypeMismatch(
            f"{literal.value!r} at position {literal.position} is not an ISO 8601 timestamp "
            "such as 2026-03-03 or 2026-03-03T10:00Z",
            position=literal.position,
            field=str(field),
        ) from None


def risk_value(field: Field, literal: Literal) -> str:
    if isinstance(literal.value, str) and literal.value in RISK_RANK:
        return literal.value
    raise QueryTypeMismatch(
        f"{field} is one of {', '.join(RISK_LEVELS)}; {describe(literal.value)} "
        f"at position {literal.position} is not",
        position=literal.position,
        field=str(field),
    )


def _written(literal: Literal) -> str:
    value = literal.value
    return str(value).lower() if isinstance(value, bool) else str(value)
