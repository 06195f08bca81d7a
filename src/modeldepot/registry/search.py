"""SearchService: models and versions matching a query (docs/query-language.md).

Returns ids in order, one page at a time; the caller turns them into wire schemas.
A cursor holds the search and sort it was made for, the last row's sort value and
its id; it is refused (CursorInvalid) with any other search or sort. Rows the caller
may not read are excluded inside the query (both targets join ``models``), so pages
and cursors are those of the readable rows alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection

from modeldepot.db.tables import models
from modeldepot.errors import CursorInvalid
from modeldepot.query.compile import compile_query
from modeldepot.query.sort import (
    Sort,
    dump_value,
    load_value,
    select_missing,
    select_page,
    select_present,
)
from modeldepot.query.targets import MODELS, VERSIONS, Target
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.unit import Units
from modeldepot.security.context import Context


@dataclass(frozen=True)
class SearchResult:
    """Ids of one page in order; pass ``next_cursor`` back for the next (None: last)."""

    ids: list[int]
    next_cursor: str | None


class SearchService:
    def __init__(self, units: Units) -> None:
        self.units = units

    def search_models(
        self,
        ctx: Context,
        query: str,
        *,
        sort: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> SearchResult:
        """Live models ``ctx`` may read matching ``query`` (every one if it is empty),
        ordered by ``sort`` (default ``name``). Raises QueryInvalid, QueryTooLarge,
        QueryFieldUnknown, QueryTypeMismatch or CursorInvalid on bad input, before
        touching the database."""
        return self._search(ctx, MODELS, query, sort, cursor, limit, include_deleted)

    def search_versions(
        self,
        ctx: Context,
        query: str,
        *,
        sort: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> SearchResult:
        """Live versions of live models ``ctx`` may read matching ``query``, ordered by
        ``sort`` (default ``-created``); raises as ``search_models`` does."""
        return self._search(ctx, VERSIONS, query, sort, cursor, limit, include_deleted)

    def _search(
        self,
        ctx: Context,
        target: Target,
        query: str,
        sort: str | None,
        cursor: str | None,
        limit: int | None,
        include_deleted: bool,
    ) -> SearchResult:
        limit = check_limit(limit)
        condition = compile_query(query, target, sqlite=self.units.db.is_sqlite)
        if not include_deleted:
            condition = target.live & condition
        order = target.sort(sort)
        after = _read_cursor(cursor, target, order) if cursor else None
        with self.units.read(ctx) as reading:
            conn = reading.conn
            condition = reading.access.readable(models.c.name) & condition
            if order.key.inner is not None:
                rows = _two_steps(conn, target, condition, order, after, limit + 1)
            else:
                statement = select_page(
                    target.source, target.id, condition, order, after=after, limit=limit + 1
                )
                rows = [(int(row[0]), row[1]) for row in conn.execute(statement)]
        return _page(rows, limit, target, order)


def _two_steps(
    conn: Connection,
    target: Target,
    condition: ColumnElement[bool],
    order: Sort,
    after: tuple[Any, int] | None,
    wanted: int,
) -> list[tuple[int, Any]]:
    """Rows with a sort value in index order, then (if the page is not full) the rows
    without one: each step reads only as far as the page needs."""
    rows: list[tuple[int, Any]] = []
    if after is None or after[0] is not None:
        statement = select_present(
            target.source, target.id, condition, order, after=after, limit=wanted
        )
        rows = [(int(row[0]), row[1]) for row in conn.execute(statement)]
    if len(rows) < wanted:
        after_id = after[1] if after is not None and after[0] is None else None
        statement = select_missing(
            target.source,
            target.id,
            condition,
            order,
            after_id=after_id,
            limit=wanted - len(rows),
        )
        rows.extend((int(row[0]), None) for row in conn.execute(statement))
    return rows


def _page(rows: Sequence[tuple[int, Any]], limit: int, target: Target, sort: Sort) -> SearchResult:
    """The first ``limit`` of ``rows`` (id, sort value); a cursor if there are more."""
    ids = [row_id for row_id, _ in rows[:limit]]
    if len(rows) <= limit:
        return SearchResult(ids, None)
    last_id, last_value = rows[limit - 1]
    cursor = encode_cursor(_made_for(target, sort), dump_value(last_value), last_id)
    return SearchResult(ids, cursor)


def _read_cursor(cursor: str, target: Target, sort: Sort) -> tuple[Any, int]:
    made_for, value, last_id = decode_cursor(cursor, str, object, int)
    if made_for != _made_for(target, sort):
        raise CursorInvalid("pagination cursor was made for another search or sort")
    return load_value(sort.key, value), last_id


def _made_for(target: Target, sort: Sort) -> str:
    return f"{target.name}s:{sort.spec}"
