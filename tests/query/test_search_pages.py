"""Sorting and keyset pagination: missing values last, ties by id, cursors checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from modeldepot.db.engine import Database
from modeldepot.errors import CursorInvalid, QueryFieldUnknown
from modeldepot.registry.pagination import encode_cursor
from modeldepot.registry.search import SearchResult, SearchService
from tests.query.conftest import ADMIN
from tests.query.seed import START, Seed


def pages(run: Callable[..., SearchResult], limit: int, **options: object) -> list[list[int]]:
    """Every page of a search, following the cursors."""
    result = run(ADMIN, limit=limit, **options)
    found = [result.ids]
    while result.next_cursor:
        result = run(ADMIN, limit=limit, cursor=result.next_cursor, **options)
        found.append(result.ids)
    return found


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["tagger1", "resnet1", "ctr2", "ctr1", "fraud2", "fraud1"]),
        ("-created", ["tagger1", "resnet1", "ctr2", "ctr1", "fraud2", "fraud1"]),
        ("created", ["fraud1", "fraud2", "ctr1", "ctr2", "resnet1", "tagger1"]),
        ("number", ["fraud1", "ctr1", "resnet1", "tagger1", "fraud2", "ctr2"]),
        ("-number", ["ctr2", "fraud2", "tagger1", "resnet1", "ctr1", "fraud1"]),
        ("name", ["ctr1", "ctr2", "fraud1", "fraud2", "tagger1", "resnet1"]),
        ("metrics.auc", ["ctr1", "fraud1", "resnet1", "fraud2", "ctr2", "tagger1"]),
        ("-metrics.auc", ["fraud2", "resnet1", "fraud1", "ctr1", "tagger1", "ctr2"]),
        ("params.lr", ["fraud2", "fraud1", "ctr1", "ctr2", "resnet1", "tagger1"]),
        ("-params.lr", ["ctr1", "fraud1", "fraud2", "tagger1", "resnet1", "ctr2"]),
        ("params.optimizer.name", ["fraud1", "fraud2", "ctr1", "ctr2", "resnet1", "tagger1"]),
        ("tags.stage", ["fraud1", "fraud2", "ctr1", "ctr2", "resnet1", "tagger1"]),
        ("-tags.stage", ["fraud2", "fraud1", "tagger1", "resnet1", "ctr2", "ctr1"]),
        ("owner", ["fraud1", "fraud2", "ctr1", "ctr2", "tagger1", "resnet1"]),
        ("-owner", ["tagger1", "ctr2", "ctr1", "fraud2", "fraud1", "resnet1"]),
        ("-risk", ["fraud2", "fraud1", "tagger1", "ctr2", "ctr1", "resnet1"]),
    ],
)
def test_versions_sort_with_missing_values_last(search, catalog, sort, expected) -> None:
    everything = search.search_versions(ADMIN, "", sort=sort)
    assert catalog.version_names(everything.ids) == expected
    assert everything.next_cursor is None
    paged = pages(search.search_versions, 2, query="", sort=sort)
    assert [catalog.version_names(page) for page in paged] == [
        expected[0:2],
        expected[2:4],
        expected[4:6],
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["ctr", "fraud", "tagger", "resnet"]),
        ("-name", ["resnet", "tagger", "fraud", "ctr"]),
        ("created", ["fraud", "ctr", "resnet", "tagger"]),
        ("-updated", ["tagger", "resnet", "ctr", "fraud"]),
        ("risk", ["ctr", "tagger", "fraud", "resnet"]),  # by severity, not alphabet
        ("-risk", ["fraud", "tagger", "ctr", "resnet"]),
        ("owner", ["fraud", "ctr", "tagger", "resnet"]),
        ("-owner", ["tagger", "ctr", "fraud", "resnet"]),
    ],
)
def test_models_sort_with_missing_values_last(search, catalog, sort, expected) -> None:
    assert catalog.model_names(search.search_models(ADMIN, "", sort=sort).ids) == expected
    paged = pages(search.search_models, 1, query="", sort=sort)
    assert [catalog.model_names(page) for page in paged] == [[name] for name in expected]


def test_metric_filter_sorted_and_paged(search, catalog) -> None:
    first = search.search_versions(ADMIN, "metrics.auc > 0.8", sort="-metrics.auc", limit=2)
    assert catalog.version_names(first.ids) == ["fraud2", "resnet1"]
    assert first.next_cursor is not None
    second = search.search_versions(
        ADMIN, "metrics.auc > 0.8", sort="-metrics.auc", limit=2, cursor=first.next_cursor
    )
    assert catalog.version_names(second.ids) == ["fraud1"]
    assert second.next_cursor is None


def test_a_full_last_page_has_no_next_cursor(search, catalog) -> None:
    result = search.search_versions(ADMIN, "metrics.auc EXISTS", limit=4)
    assert len(result.ids) == 4
    assert result.next_cursor is None


@pytest.mark.parametrize("sort", ["metrics.score", "-metrics.score", "created", "-created"])
@pytest.mark.parametrize("limit", [1, 3, 4])
def test_pages_with_ties_and_gaps_hold_every_row_once_in_order(
    db: Database, search: SearchService, sort: str, limit: int
) -> None:
    scores = [0.5, None, 0.5, 0.9, None, 0.1, 0.5, None, 0.9, 0.5]
    with db.write() as conn:
        seed = Seed(conn)
        model = seed.model("m")
        ids = []
        for i, score in enumerate(scores):
            created = START + timedelta(hours=i // 3)  # ties in creation time too
            metrics = {} if score is None else {"score": score}
            ids.append(seed.version(model, metrics=metrics, created=created))
    descending = sort.startswith("-")
    if sort.endswith("score"):
        present = [(s, i) for s, i in zip(scores, ids, strict=True) if s is not None]
        missing = [i for s, i in zip(scores, ids, strict=True) if s is None]
        expected = [i for _, i in sorted(present, reverse=descending)]
        expected += sorted(missing, reverse=descending)
    else:
        keyed = [(START + timedelta(hours=n // 3), i) for n, i in enumerate(ids)]
        expected = [i for _, i in sorted(keyed, reverse=descending)]
    paged = pages(search.search_versions, limit, query="", sort=sort)
    assert [i for page in paged for i in page] == expected
    assert all(len(page) == limit for page in paged[:-1])


def test_a_cursor_for_another_sort_is_refused(search, catalog) -> None:
    cursor = search.search_versions(ADMIN, "", sort="metrics.auc", limit=1).next_cursor
    assert cursor
    with pytest.raises(CursorInvalid):
        search.search_versions(ADMIN, "", sort="-metrics.auc", cursor=cursor)
    with pytest.raises(CursorInvalid):
        search.search_versions(ADMIN, "", sort="metrics.f1", cursor=cursor)
    model_cursor = search.search_models(ADMIN, "", sort="created", limit=1).next_cursor
    assert model_cursor
    with pytest.raises(CursorInvalid):
        search.search_versions(ADMIN, "", sort="created", cursor=model_cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "e30",  # {}
        encode_cursor("versions:-created", "2026-01-01T00:00:00+00:00"),
        encode_cursor("versions:-created", "yesterday", 3),
        encode_cursor("versions:-created", "2026-01-01T00:00:00", 3),  # no zone
        encode_cursor("versions:-created", None, 3),  # created is never missing
        encode_cursor("versions:-created", 5, 3),
        encode_cursor("versions:-created", "2026-01-01T00:00:00+00:00", -1),
        encode_cursor("versions:-created", "2026-01-01T00:00:00+00:00", True),
    ],
)
def test_a_malformed_cursor_is_refused(search, catalog, cursor) -> None:
    with pytest.raises(CursorInvalid):
        search.search_versions(ADMIN, "", cursor=cursor)


def test_a_cursor_may_hold_a_missing_value(search, catalog) -> None:
    cursor = encode_cursor("versions:metrics.auc", None, catalog.versions["ctr2"])
    result = search.search_versions(ADMIN, "", sort="metrics.auc", cursor=cursor)
    assert catalog.version_names(result.ids) == ["tagger1"]


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_limit_out_of_range_is_refused(search, catalog, limit) -> None:
    with pytest.raises(CursorInvalid, match="limit"):
        search.search_models(ADMIN, "", limit=limit)


@pytest.mark.parametrize(
    "sort",
    ["size", "metrics", "metrics.", "-", "riskiness", "tag.team", "metrics.a\x00", "params.\ud800"],
)
def test_unknown_version_sorts_are_refused_with_the_valid_ones(search, sort) -> None:
    with pytest.raises(QueryFieldUnknown) as caught:
        search.search_versions(ADMIN, "", sort=sort)
    assert "created, created_by, digest, format, name, number, owner, risk, metrics.KEY" in (
        caught.value.detail
    )


def test_unknown_model_sorts_are_refused_with_the_valid_ones(search) -> None:
    with pytest.raises(QueryFieldUnknown) as caught:
        search.search_models(ADMIN, "", sort="metrics.auc")
    assert "card_completeness, created, created_by, name, owner, risk, updated, tags.KEY" in (
        caught.value.detail
    )
