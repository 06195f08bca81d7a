"""Free text on SQLite (FTS5) and PostgreSQL (tsvector): stemming, safety, scope."""

from __future__ import annotations

import pytest

from modeldepot.registry.search import SearchService
from tests.query.conftest import ADMIN, Catalog


def models_found(search: SearchService, catalog: Catalog, query: str) -> set[str]:
    return set(catalog.model_names(search.search_models(ADMIN, query).ids))


def versions_found(search: SearchService, catalog: Catalog, query: str) -> set[str]:
    return set(catalog.version_names(search.search_versions(ADMIN, query).ids))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"fraud"', {"fraud"}),
        ('"Fraud Detection"', {"fraud"}),
        ('"detecting"', {"fraud"}),  # stemmed: finds "detection"
        ('"classifiers"', {"resnet"}),
        ('"click through"', {"ctr"}),
        ('"fraud payments"', {"fraud"}),  # every word, anywhere in the document
        ('"fraud images"', set()),
        ('"fraud" AND risk = high', {"fraud"}),
        ('"fraud" AND owner = bob', set()),
        ('NOT "fraud"', {"ctr", "resnet", "tagger"}),
        ("'image' OR 'tagging'", {"resnet", "tagger"}),
    ],
)
def test_models_by_text(search, catalog, query, expected) -> None:
    assert models_found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"detecting"', {"fraud2"}),  # "detects" in the version's description
        ('"transformer"', {"fraud2"}),
        ('"fraudulent"', {"fraud2"}),
        ('"regression" AND format = onnx', {"ctr1"}),
        ('"card payments"', set()),  # words of the model document only
    ],
)
def test_versions_by_text(search, catalog, query, expected) -> None:
    assert versions_found(search, catalog, query) == expected


@pytest.mark.parametrize(
    "text",
    [
        r'"fraud\" near*"',
        "'fraud\" (near AND'",
        "'fraud NEAR(near detection, card)'",
        "'fraud AND'",
        "'-fraud ^near +AND:'",
        "'fraud* near:'",
    ],
)
def test_fts_syntax_in_the_text_is_searched_as_words_never_an_error(search, catalog, text) -> None:
    # Whatever operators the text holds, it finds the documents holding its words
    # (PostgreSQL ignores the stop word "and"; SQLite finds it in the document).
    assert models_found(search, catalog, text) == {"fraud"}


@pytest.mark.parametrize("text", ["'*'", "'\"'", "'()'", "''", "' '", "'^-+:'"])
def test_text_without_words_matches_nothing(search, catalog, text) -> None:
    assert models_found(search, catalog, text) == set()
    assert models_found(search, catalog, f"NOT {text}") == {"fraud", "ctr", "resnet", "tagger"}


def test_text_of_deleted_models_is_not_found(search, catalog) -> None:
    assert models_found(search, catalog, '"retired"') == set()
    found = search.search_models(ADMIN, '"retired"', include_deleted=True).ids
    assert catalog.model_names(found) == ["legacy"]
