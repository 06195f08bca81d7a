"""Bad queries are refused before the database is asked, with the position at fault."""

from __future__ import annotations

import pytest

from modeldepot.errors import (
    QueryFieldUnknown,
    QueryInvalid,
    QueryTooLarge,
    QueryTypeMismatch,
)
from tests.query.conftest import ADMIN


def test_a_syntax_error_names_its_position(search, catalog) -> None:
    with pytest.raises(QueryInvalid) as caught:
        search.search_versions(ADMIN, "metrics.auc > ")
    assert caught.value.detail == "expected a value after '>' at position 14"
    assert caught.value.extra == {"position": 14}


@pytest.mark.parametrize(
    ("query", "field", "position"),
    [
        ("foo = 1", "foo", 0),
        ("metric.auc > 0.9", "metric.auc", 0),
        ("name = a AND params.lr = 1", "params.lr", 13),  # models have no params
        ("metrics.auc > 1", "metrics.auc", 0),
        ("number = 1", "number", 0),
        ("tags = x", "tags", 0),
        ("dataset EXISTS", "dataset", 0),
    ],
)
def test_unknown_model_fields_are_refused_with_the_valid_ones(
    search, query, field, position
) -> None:
    with pytest.raises(QueryFieldUnknown) as caught:
        search.search_models(ADMIN, query)
    assert caught.value.detail.startswith(f"unknown field '{field}' at position {position}; ")
    assert caught.value.detail.endswith(
        "model fields are: alias, card_completeness, created, created_by, description, "
        "format, name, owner, risk, updated, tags.KEY"
    )
    assert caught.value.extra == {"position": position, "field": field}


def test_unknown_version_fields_are_refused_with_the_valid_ones(search) -> None:
    with pytest.raises(QueryFieldUnknown) as caught:
        search.search_versions(ADMIN, "NOT (metric.auc EXISTS)")
    assert caught.value.detail == (
        "unknown field 'metric.auc' at position 5; version fields are: alias, "
        "card_completeness, created, created_by, dataset, description, digest, format, "
        "model, name, number, owner, risk, metrics.KEY, params.PATH, tags.KEY"
    )


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        (
            'metrics.auc > "x"',
            "metrics.auc is a number; it cannot be compared with the text 'x'",
            14,
        ),
        (
            "metrics.auc = true",
            "metrics.auc is a number; it cannot be compared with the boolean",
            14,
        ),
        ('number = "a"', "number is a number; it cannot be compared with the text 'a'", 9),
        ("number IN (1, x)", "number is a number; it cannot be compared with the text 'x'", 14),
        (
            "name > 5",
            "'>' at position 5 compares numbers, timestamps and risk levels; name is text",
            5,
        ),
        ('name >= "m"', "'>=' at position 5 compares numbers, timestamps and risk levels", 5),
        ("name = 5", "name is text; it cannot be compared with the number 5", 7),
        (
            "tags.epochs = 10",
            "tags.epochs is text; it cannot be compared with the number 10 at position 14 "
            '(quote it: "10")',
            14,
        ),
        (
            "metrics.auc LIKE 'x%'",
            "LIKE at position 12 needs a text field; metrics.auc is a number",
            12,
        ),
        (
            "created GLOB '2026*'",
            "GLOB at position 8 needs a text field; created is a timestamp",
            8,
        ),
        ("risk LIKE 'h%'", "LIKE at position 5 needs a text field; risk is a risk level", 5),
        (
            "name LIKE 5",
            "name is text; it cannot be compared with the number 5 at position 10 "
            "(LIKE needs a text pattern)",
            10,
        ),
        ("params.lr LIKE 5", "params.lr is text; it cannot be compared with the number 5", 15),
        ('params.lr > "x"', "params.lr is a number; it cannot be compared with the text 'x'", 12),
        (
            "params.flag >= true",
            "params.flag is a number; it cannot be compared with the boolean true",
            15,
        ),
        ('created > "yesterday"', "'yesterday' at position 10 is not an ISO 8601 timestamp", 10),
        ('created > "2026-02-30"', "'2026-02-30' at position 10 is not an ISO 8601 timestamp", 10),
        ("created > 5", "created is a timestamp; it cannot be compared with the number 5", 10),
        (
            "risk = severe",
            "risk is one of minimal, limited, high, unacceptable; the text 'severe'",
            7,
        ),
        ("risk >= 2", "risk is one of minimal, limited, high, unacceptable; the number 2", 8),
        ("risk IN (high, HIGH)", "the text 'HIGH' at position 15 is not", 15),
        ('dataset > "a"', "'>' at position 8 compares numbers, timestamps and risk levels", 8),
    ],
)
def test_type_mismatches_are_refused(search, query, message, position) -> None:
    with pytest.raises(QueryTypeMismatch) as caught:
        search.search_versions(ADMIN, query)
    assert message in caught.value.detail
    assert caught.value.extra["position"] == position
    assert caught.value.code == "QUERY_TYPE_MISMATCH"


def test_a_huge_query_is_refused(search) -> None:
    with pytest.raises(QueryTooLarge):
        search.search_models(ADMIN, "name = " + "x" * 5000)
    with pytest.raises(QueryTooLarge):
        search.search_models(ADMIN, " OR ".join(f"name = m{i}" for i in range(201)))
    with pytest.raises(QueryTooLarge):
        search.search_models(ADMIN, "(" * 40 + "name = x" + ")" * 40)


def test_the_largest_allowed_query_runs(search, catalog) -> None:
    query = " OR ".join(f"tags.team = t{i}" for i in range(199)) + " OR tags.team = ads"
    assert catalog.model_names(search.search_models(ADMIN, query).ids) == ["ctr"]
    nested = "(" * 31 + "NOT tags.team != ads" + ")" * 31
    assert catalog.model_names(search.search_models(ADMIN, nested).ids) == ["ctr", "tagger"]
