"""Sort orders and keyset pagination over them.

A page is ordered by one sort key, then by id in the same direction; rows without a
value for the key come last in either direction. The next page is the rows strictly
after the last row's position (sort value, possibly null, and id), so pages never
repeat or skip a row that did not change in between.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    UnaryExpression,
    asc,
    bindparam,
    desc,
    or_,
    select,
    tuple_,
)

from modeldepot.errors import CursorInvalid
from modeldepot.query.values import ValueType

Join = Callable[[FromClause], FromClause]


@dataclass(frozen=True)
class SortKey:
    """A value to order by. ``join`` adds what ``value`` reads to the FROM clause; it
    must not add rows (a LEFT JOIN on a unique key).

    A key read from another table (a metric, a param) also has ``inner``, the same join
    keeping only rows that have a value, and ``missing``, true of rows without one: a
    page is then read in two steps, rows with a value in index order, then the rest.
    One statement with an outer join and NULLS LAST would sort every matching row.
    """

    value: ColumnElement[Any]
    kind: ValueType  # TEXT, NUMBER or TIMESTAMP: what a cursor holds
    nullable: bool = False
    join: Join | None = None
    inner: Join | None = None
    missing: ColumnElement[bool] | None = None


@dataclass(frozen=True)
class Sort:
    spec: str  # as the caller names it: "-metrics.auc"
    key: SortKey
    descending: bool

    def order_by(self, id_column: ColumnElement[int]) -> list[UnaryExpression[Any]]:
        direction = desc if self.descending else asc
        first = direction(self.key.value)
        if self.key.nullable:
            first = first.nulls_last()
        return [first, direction(id_column)]

    def after(self, value: Any, last_id: int, id_column: ColumnElement[int]) -> ColumnElement[bool]:
        """Rows that come after the row with sort value ``value`` and id ``last_id``."""
        beyond = operator.lt if self.descending else operator.gt
        key = self.key.value
        if value is None:
            beyond_id: ColumnElement[bool] = beyond(id_column, last_id)
            return key.is_(None) & beyond_id
        position = tuple_(bindparam(None, value, type_=key.type), bindparam(None, last_id))
        later: ColumnElement[bool] = beyond(tuple_(key, id_column), position)
        # A NULL key makes the comparison NULL, so the OR decides: missing values last.
        return or_(later, key.is_(None)) if self.key.nullable else later


def dump_value(value: Any) -> Any:
    """A sort value as JSON can hold it (for a cursor)."""
    return value.isoformat() if isinstance(value, datetime) else value


def load_value(key: SortKey, value: object) -> Any:
    """A sort value read back from a cursor; CursorInvalid unless it fits ``key``."""
    if value is None and key.nullable:
        return None
    if key.kind is ValueType.TEXT and isinstance(value, str):
        return value
    if key.kind is ValueType.NUMBER and isinstance(value, int | float):
        return value
    if key.kind is ValueType.TIMESTAMP and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise CursorInvalid("pagination cursor is malformed") from None
        if moment.tzinfo is not None:
            return moment
    raise CursorInvalid("pagination cursor is malformed")


def select_page(
    source: FromClause,
    id_column: ColumnElement[int],
    condition: ColumnElement[bool],
    sort: Sort,
    *,
    after: tuple[Any, int] | None,
    limit: int,
) -> Select[Any]:
    """(id, sort value) of the first ``limit`` rows of ``source`` matching ``condition``
    in ``sort`` order that come after the position ``after`` (value, id)."""
    if sort.key.join is not None:
        source = sort.key.join(source)
    statement = (
        select(id_column, sort.key.value.label("sort_value"))
        .select_from(source)
        .where(condition)
        .order_by(*sort.order_by(id_column))
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(sort.after(*after, id_column))
    return statement


def select_present(
    source: FromClause,
    id_column: ColumnElement[int],
    condition: ColumnElement[bool],
    sort: Sort,
    *,
    after: tuple[Any, int] | None,
    limit: int,
) -> Select[Any]:
    """Like ``select_page``, over the rows that have a sort value (``sort.key.inner``)."""
    assert sort.key.inner is not None
    direction = desc if sort.descending else asc
    statement = (
        select(id_column, sort.key.value.label("sort_value"))
        .select_from(sort.key.inner(source))
        .where(condition)
        .order_by(direction(sort.key.value), direction(id_column))
        .limit(limit)
    )
    if after is not None:
        beyond = operator.lt if sort.descending else operator.gt
        position = tuple_(
            bindparam(None, after[0], type_=sort.key.value.type), bindparam(None, after[1])
        )
        statement = statement.where(beyond(tuple_(sort.key.value, id_column), position))
    return statement


def select_missing(
    source: FromClause,
    id_column: ColumnElement[int],
    condition: ColumnElement[bool],
    sort: Sort,
    *,
    after_id: int | None,
    limit: int,
) -> Select[Any]:
    """The rows without a sort value (``sort.key.missing``), by id in the sort's direction."""
    assert sort.key.missing is not None
    direction = desc if sort.descending else asc
    statement = (
        select(id_column)
        .select_from(source)
        .where(condition, sort.key.missing)
        .order_by(direction(id_column))
        .limit(limit)
    )
    if after_id is not None:
        beyond = operator.lt if sort.descending else operator.gt
        statement = statement.where(beyond(id_column, after_id))
    return statement
