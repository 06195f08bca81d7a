"""Search sees only what the caller may read, and its pages stay whole.

The filter is part of the query, so every sort (including the two-step ones that read
rows with a value, then rows without) pages through the readable rows alone.
"""

from __future__ import annotations

import pytest

from modeldepot.registry.search import SearchService
from modeldepot.security.access import Access, Grant, Scope
from modeldepot.security.context import Context, Principal
from modeldepot.security.roles import Role
from tests.query.conftest import ADMIN, Catalog

ADS_READER = Context(Principal(1, "ann", "user"), Access((Grant("ads", Role.READER),)))
# An admin's token scoped to reading ``ads/``: the scope caps the grant.
ADS_TOKEN = Context(
    Principal(2, "root", "user"),
    Access((Grant("", Role.ADMIN),), Scope("ads", Role.READER)),
)
NOBODY = Context(Principal(3, "nobody", "user"), Access())


def every_page(search: SearchService, ctx: Context, method: str, **options: object) -> list[int]:
    run = getattr(search, method)
    result = run(ctx, "", limit=1, **options)
    ids = list(result.ids)
    while result.next_cursor:
        result = run(ctx, "", limit=1, cursor=result.next_cursor, **options)
        assert result.ids, "a page in the middle of a search is never empty"
        ids.extend(result.ids)
    return ids


@pytest.mark.parametrize("ctx", [ADS_READER, ADS_TOKEN], ids=["grant", "scoped-token"])
@pytest.mark.parametrize("sort", [None, "name", "-metrics.auc", "params.lr", "tags.stage"])
def test_version_pages_hold_exactly_the_readable_versions(search, catalog, ctx, sort) -> None:
    everything = catalog.version_names(search.search_versions(ADMIN, "", sort=sort).ids)
    expected = [name for name in everything if name.startswith(("fraud", "ctr"))]
    paged = catalog.version_names(every_page(search, ctx, "search_versions", sort=sort))
    assert paged == expected


@pytest.mark.parametrize("sort", ["name", "-risk", "owner"])
def test_model_pages_hold_exactly_the_readable_models(search, catalog: Catalog, sort) -> None:
    paged = catalog.model_names(every_page(search, ADS_READER, "search_models", sort=sort))
    assert sorted(paged) == ["ctr", "fraud"]


def test_queries_and_free_text_find_nothing_unreadable(search, catalog) -> None:
    fraud = search.search_models(ADS_READER, '"fraud"', include_deleted=True).ids
    assert catalog.model_names(fraud) == ["fraud"]  # not old/legacy, which says so too
    assert search.search_versions(ADS_READER, "metrics.auc > 0.85").ids == [
        catalog.versions["fraud2"]
    ]
    assert search.search_models(NOBODY, "").ids == []
    assert search.search_versions(NOBODY, "metrics.auc EXISTS", sort="-metrics.auc").ids == []
