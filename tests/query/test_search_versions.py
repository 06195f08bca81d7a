"""Version search on SQLite and PostgreSQL: metrics, params, datasets, aliases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from modeldepot.db.tables import versions
from modeldepot.registry.search import SearchService
from tests.query.conftest import ADMIN, Catalog

LIVE = {"fraud1", "fraud2", "ctr1", "ctr2", "resnet1", "tagger1"}


def found(search: SearchService, catalog: Catalog, query: str, **options: object) -> set[str]:
    return set(catalog.version_names(search.search_versions(ADMIN, query, **options).ids))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", LIVE),
        ("metrics.auc > 0.8", {"fraud1", "fraud2", "resnet1"}),
        ("metrics.auc >= 0.93", {"fraud2"}),
        ("metrics.auc < 0.6", set()),  # the sliced value 0.5 is not the headline one
        ("metrics.auc = 0.75", {"ctr1"}),
        ("metrics.auc IN (0.75, 0.88)", {"ctr1", "resnet1"}),
        ("metrics.auc != 0.75", {"fraud1", "fraud2", "resnet1"}),
        ("metrics.auc EXISTS", {"fraud1", "fraud2", "ctr1", "resnet1"}),
        ("NOT metrics.auc EXISTS", {"ctr2", "tagger1"}),
        ("NOT metrics.auc > 0.8", {"ctr1", "ctr2", "tagger1"}),
        ("metrics.auc > 0.8 AND metrics.f1 < 0.65", {"fraud1"}),
        ("metrics.auc > 1", set()),
        ("metrics.auc > -1", {"fraud1", "fraud2", "ctr1", "resnet1"}),
        ("metrics.auc < 9e-1 AND metrics.auc > 8.5E-1", {"resnet1"}),
    ],
)
def test_metrics(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("params.lr = 0.1", {"fraud1"}),
        ("params.lr < 0.05", {"fraud2"}),
        ("params.lr >= 0.1", {"fraud1", "ctr1"}),
        ("params.lr IN (0.01, 0.5)", {"fraud2", "ctr1"}),
        ("params.lr != 0.1", {"fraud2", "ctr1"}),
        ('params.lr = "0.1"', set()),  # a text literal compares with text leaves only
        ("params.optimizer.name = adam", {"fraud1"}),
        ('params.optimizer.name LIKE "%g%"', {"fraud2"}),
        ('params.optimizer.name GLOB "a*"', {"fraud1"}),
        ("params.optimizer.betas.1 = 0.99", {"fraud1"}),
        ("params.optimizer.betas.0 < 1", {"fraud1"}),
        ("params.early_stop = true", {"fraud1"}),
        ("params.early_stop = false", {"fraud2"}),
        ("params.early_stop != true", {"fraud2"}),
        ("params.early_stop = 1", set()),  # a number is not a boolean
        ('params.early_stop = "true"', set()),  # nor is a text
        ("params.depth = 5", set()),  # depth was given as the text "5"
        ('params.depth = "5"', {"fraud1"}),
        ("params.depth IN (5, '5', true)", {"fraud1"}),
        ("params.lr EXISTS", {"fraud1", "fraud2", "ctr1"}),
        ("NOT params.lr EXISTS", {"ctr2", "resnet1", "tagger1"}),
        ('params."optimizer.name" = sgd', {"fraud2"}),
    ],
)
def test_params_compare_as_the_literal_type(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('dataset = "s3://data/train.csv"', {"fraud2"}),
        (f'dataset = "sha256:{"a" * 64}"', {"fraud2"}),
        ('dataset LIKE "s3://data/%"', {"fraud2", "resnet1"}),
        ('dataset GLOB "*images*"', {"resnet1"}),
        ("dataset EXISTS", {"fraud2", "resnet1"}),
        ('dataset != "s3://data/train.csv"', {"resnet1"}),
        ('dataset IN ("s3://data/images/", "s3://nowhere")', {"resnet1"}),
        ('dataset = ""', set()),
        ("alias = production", {"fraud2"}),
        ("alias IN (production, staging)", {"fraud2", "ctr2"}),
        ("NOT alias EXISTS", LIVE - {"fraud2", "ctr2"}),
    ],
)
def test_datasets_and_aliases(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name = 'ads/fraud-detector'", {"fraud1", "fraud2"}),
        ("model = ads/ctr", {"ctr1", "ctr2"}),
        ("name LIKE 'ads/%' AND number = 2", {"fraud2", "ctr2"}),
        ("number IN (1, 2) AND owner = bob", {"ctr1", "ctr2"}),
        ("number > 1.5", {"fraud2", "ctr2"}),
        ("owner = alice", {"fraud1", "fraud2"}),
        ("NOT owner EXISTS", {"resnet1"}),
        ("risk = high", {"fraud1", "fraud2"}),
        ("risk >= limited", {"fraud1", "fraud2", "tagger1"}),
        ("format = onnx", {"fraud2", "ctr1"}),
        ("format IN (sklearn, onnx) AND NOT format = sklearn", {"fraud2", "ctr1"}),
        ("NOT format EXISTS", {"ctr2", "resnet1", "tagger1"}),
        ("tags.stage = prod", {"fraud2"}),
        ("tags.stage != prod", {"fraud1"}),
        ("description LIKE '%transformer'", {"fraud2"}),
        ('created >= "2026-02-01" AND created < "2026-03-01"', {"fraud2", "ctr1", "ctr2"}),
        ("created_by = seeder AND card_completeness > 0.5", {"fraud2"}),
    ],
)
def test_version_and_model_columns(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


def test_digest_matches_exactly(search, catalog, db) -> None:
    with db.read() as conn:
        digest = conn.execute(
            select(versions.c.digest).where(versions.c.id == catalog.versions["ctr1"])
        ).scalar_one()
    assert found(search, catalog, f"digest = '{digest}'") == {"ctr1"}


def test_deleted_versions_and_versions_of_deleted_models_are_excluded(search, catalog) -> None:
    assert found(search, catalog, "metrics.auc > 0.9") == {"fraud2"}
    everything = found(search, catalog, "metrics.auc > 0.9", include_deleted=True)
    assert everything == {"fraud2", "fraud3", "legacy1"}
