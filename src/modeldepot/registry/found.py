"""Search results as pages of wire records (the query language lives in ``query``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modeldepot.registry.lookup import models_by_ids, versions_by_ids
from modeldepot.registry.unit import Units
from modeldepot.schemas import ModelRead, Page, VersionRead
from modeldepot.security.context import Context

if TYPE_CHECKING:
    from modeldepot.registry.search import SearchService


class FoundService:
    """Runs a search and reads the records it found, in its order: only records the
    caller may read (the search filters them in its SQL)."""

    def __init__(self, units: Units) -> None:
        self.units = units
        self._search: SearchService | None = None

    @property
    def search(self) -> SearchService:
        """The query language loads on the first search, not at server start."""
        if self._search is None:
            from modeldepot.registry.search import SearchService

            self._search = SearchService(self.units)
        return self._search

    def models(
        self,
        ctx: Context,
        query: str,
        *,
        sort: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> Page[ModelRead]:
        found = self.search.search_models(
            ctx, query, sort=sort, cursor=cursor, limit=limit, include_deleted=include_deleted
        )
        with self.units.read(ctx) as reading:
            items = models_by_ids(reading.conn, found.ids)
        return Page[ModelRead](items=items, next_cursor=found.next_cursor)

    def versions(
        self,
        ctx: Context,
        query: str,
        *,
        sort: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> Page[VersionRead]:
        found = self.search.search_versions(
            ctx, query, sort=sort, cursor=cursor, limit=limit, include_deleted=include_deleted
        )
        with self.units.read(ctx) as reading:
            items = versions_by_ids(reading.conn, found.ids)
        return Page[VersionRead](items=items, next_cursor=found.next_cursor)
