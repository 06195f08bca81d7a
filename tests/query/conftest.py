"""A small catalog of models and versions that the search tests query.

=================  ======  ============  ==================================================
model              owner   risk          versions (* = deleted)
=================  ======  ============  ==================================================
ads/fraud-detector alice   high          v1 sklearn auc .81, v2 onnx auc .93 ("production",
                                         train.csv), v3* pytorch auc .99
ads/ctr            bob     minimal       v1 onnx auc .75, v2 no metrics ("staging")
vision/resnet      -       -             v1 auc .88 (slice sex=female .5), images dataset
nlp/tagger         carol   limited       v1 no metrics
old/legacy*        alice   high          v1 auc .95
=================  ======  ============  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from modeldepot.db.engine import Database
from modeldepot.registry.search import SearchService
from modeldepot.registry.unit import Units
from modeldepot.security.context import Context
from tests.query.seed import Seed

# The callers of these tests read everything; tests/query/test_search_access.py is
# about who reads what.
ADMIN = Context.system("tests")


@dataclass
class Catalog:
    models: dict[str, int]
    versions: dict[str, int]  # "fraud1", "ctr2", …

    def model_names(self, ids: list[int]) -> list[str]:
        by_id = {v: k for k, v in self.models.items()}
        return [by_id[i] for i in ids]

    def version_names(self, ids: list[int]) -> list[str]:
        by_id = {v: k for k, v in self.versions.items()}
        return [by_id[i] for i in ids]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def catalog(db: Database) -> Catalog:
    with db.write() as conn:
        seed = Seed(conn)
        train = seed.dataset("s3://data/train.csv", "sha256:" + "a" * 64)
        images = seed.dataset("s3://data/images/", "")
        fraud = seed.model(
            "ads/fraud-detector",
            description="Fraud detection for card payments and transfers, near real time",
            owner="alice",
            risk="high",
            tags={"team": "risk", "stage": "prod", "note": "axb"},
            created=at("2026-01-10T09:00"),
            card_completeness=0.9,
        )
        ctr = seed.model(
            "ads/ctr",
            description="Click-through rate prediction",
            owner="bob",
            risk="minimal",
            tags={"team": "ads", "note": "100% recall"},
            created=at("2026-02-10T12:00"),
            card_completeness=0.4,
        )
        resnet = seed.model(
            "vision/resnet",
            description="Image classifier",
            tags={"team": "vision", "note": "a_b"},
            created=at("2026-03-05T00:00"),
        )
        tagger = seed.model(
            "nlp/tagger",
            description="Part of speech tagging",
            owner="carol",
            risk="limited",
            created=at("2026-03-06T00:00"),
        )
        legacy = seed.model(
            "old/legacy",
            description="Fraud detection, retired",
            owner="alice",
            risk="high",
            tags={"team": "risk"},
            deleted=True,
        )
        versions = {
            "fraud1": seed.version(
                fraud,
                description="baseline gradient boosting",
                format="sklearn",
                metrics={"auc": 0.81, "f1": 0.6},
                params={
                    "lr": 0.1,
                    "optimizer": {"name": "adam", "betas": [0.9, 0.99]},
                    "early_stop": True,
                    "depth": "5",
                },
                tags={"stage": "dev"},
                created=at("2026-01-11T00:00"),
                card_completeness=0.5,
            ),
            "fraud2": seed.version(
                fraud,
                description="detects fraudulent transactions with a transformer",
                format="onnx",
                metrics={"auc": 0.93, "f1": 0.7},
                params={"lr": 0.01, "optimizer": {"name": "sgd"}, "early_stop": False},
                tags={"stage": "prod"},
                datasets_used=[train],
                created=at("2026-02-01T00:00"),
                card_completeness=1.0,
            ),
            "fraud3": seed.version(fraud, format="pytorch", metrics={"auc": 0.99}, deleted=True),
            "ctr1": seed.version(
                ctr,
                description="logistic regression",
                format="onnx",
                metrics={"auc": 0.75},
                params={"lr": 0.5},
                created=at("2026-02-11T00:00"),
            ),
            "ctr2": seed.version(ctr, description="no metrics yet", created=at("2026-02-12T00:00")),
            "resnet1": seed.version(
                resnet,
                description="resnet fifty",
                metrics={"auc": 0.88},
                sliced_metrics={("auc", "sex=female"): 0.5},
                datasets_used=[images],
                created=at("2026-03-05T01:00"),
            ),
            "tagger1": seed.version(tagger, created=at("2026-03-06T01:00")),
            "legacy1": seed.version(legacy, metrics={"auc": 0.95}, created=at("2026-01-01")),
        }
        seed.alias(fraud, "production", versions["fraud2"])
        seed.alias(ctr, "staging", versions["ctr2"])
    models = {
        "fraud": fraud,
        "ctr": ctr,
        "resnet": resnet,
        "tagger": tagger,
        "legacy": legacy,
    }
    return Catalog(models, versions)


@pytest.fixture
def search(db: Database) -> SearchService:
    return SearchService(Units(db))
