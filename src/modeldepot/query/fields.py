"""What a field name means in SQL: where its values live and how to compare them.

A ``FieldSpec`` turns a comparison into a boolean SQL expression over the row being
searched. Values on the row itself are compared in place; values in other tables
(tags, params, metrics, aliases, datasets …) are compared inside a correlated
``EXISTS`` whose conditions the indexes on those tables serve. Every expression is
TRUE or FALSE, never NULL: a comparison with an absent value is FALSE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    and_,
    literal_column,
    or_,
    select,
    true,
)

from modeldepot.db.tables import datasets, version_param_leaves
from modeldepot.query.conditions import compare, compare_param
from modeldepot.query.nodes import Field, Literal, PositiveOp
from modeldepot.query.values import ValueType

Scope = Callable[[ColumnElement[bool] | None], ColumnElement[bool]]
"""Applies a condition on a field's value rows to the searched row; None: any value."""


class FieldSpec(Protocol):
    def present(self) -> ColumnElement[bool]:
        """Rows where the field has a value (``FIELD EXISTS``)."""
        ...

    def match(
        self,
        field: Field,
        op: PositiveOp,
        op_position: int,
        literals: Sequence[Literal],
        *,
        sqlite: bool,
    ) -> ColumnElement[bool]:
        """Rows where some value of the field satisfies ``op literals``; raises
        ``QueryTypeMismatch`` when the literals or the operator do not fit the field."""
        ...


def on_row(column: ColumnElement[Any], *, nullable: bool = False) -> Scope:
    """Values in a column of the searched row (or of a row joined one-to-one)."""

    def scope(condition: ColumnElement[bool] | None) -> ColumnElement[bool]:
        if not nullable:
            return true() if condition is None else condition
        present = column.is_not(None)
        return present if condition is None else and_(present, condition)

    return scope


def in_rows(source: FromClause, correlate: Table, *criteria: ColumnElement[bool]) -> Scope:
    """Values in the rows of ``source`` that ``criteria`` tie to the searched row."""

    def scope(condition: ColumnElement[bool] | None) -> ColumnElement[bool]:
        query: Select[Any] = select(literal_column("1")).select_from(source).where(*criteria)
        if condition is not None:
            query = query.where(condition)
        return query.correlate(correlate).exists()

    return scope


@dataclass(frozen=True)
class Typed:
    """A field whose values are all of one type, in ``column``."""

    kind: ValueType
    column: ColumnElement[Any]
    scope: Scope

    def present(self) -> ColumnElement[bool]:
        return self.scope(None)

    def match(
        self,
        field: Field,
        op: PositiveOp,
        op_position: int,
        literals: Sequence[Literal],
        *,
        sqlite: bool,
    ) -> ColumnElement[bool]:
        condition = compare(self.column, self.kind, field, op, op_position, literals, sqlite=sqlite)
        return self.scope(condition)


@dataclass(frozen=True)
class Param:
    """A params leaf: a number, a text or a boolean, compared as the literal's type."""

    scope: Scope  # rows of version_param_leaves at the path

    def present(self) -> ColumnElement[bool]:
        return self.scope(None)

    def match(
        self,
        field: Field,
        op: PositiveOp,
        op_position: int,
        literals: Sequence[Literal],
        *,
        sqlite: bool,
    ) -> ColumnElement[bool]:
        leaves = version_param_leaves
        return self.scope(compare_param(leaves, field, op, op_position, literals, sqlite=sqlite))


@dataclass(frozen=True)
class Dataset:
    """A dataset the version uses: ``=`` and IN match its URI or its digest, LIKE and
    GLOB its URI."""

    scope: Scope  # rows of datasets used by the version

    def present(self) -> ColumnElement[bool]:
        return self.scope(None)

    def match(
        self,
        field: Field,
        op: PositiveOp,
        op_position: int,
        literals: Sequence[Literal],
        *,
        sqlite: bool,
    ) -> ColumnElement[bool]:
        args = (ValueType.TEXT, field, op, op_position, literals)
        condition = compare(datasets.c.uri, *args, sqlite=sqlite)
        if op in ("=", "in"):
            digest = compare(datasets.c.digest, *args, sqlite=sqlite)
            # "" stands for "no digest given", which no value should match
            condition = or_(condition, and_(datasets.c.digest != "", digest))
        return self.scope(condition)
