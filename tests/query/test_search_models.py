"""Model search on SQLite and PostgreSQL: fields, operators, NOT, deleted rows."""

from __future__ import annotations

import pytest

from modeldepot.registry.search import SearchService
from tests.query.conftest import ADMIN, Catalog
from tests.query.seed import Seed


def found(search: SearchService, catalog: Catalog, query: str, **options: object) -> set[str]:
    return set(catalog.model_names(search.search_models(ADMIN, query, **options).ids))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"fraud", "ctr", "resnet", "tagger"}),
        ("tags.team = risk", {"fraud"}),
        ("tags.team = risk OR tags.team = ads", {"fraud", "ctr"}),
        ("tags.team IN (ads, vision)", {"ctr", "resnet"}),
        ("tags.team NOT IN (ads, vision)", {"fraud"}),
        ("tags.team != ads", {"fraud", "resnet"}),
        ("NOT tags.team = ads", {"fraud", "resnet", "tagger"}),
        ("tags.stage EXISTS", {"fraud"}),
        ("NOT tags.stage EXISTS", {"ctr", "resnet", "tagger"}),
        ("tags.stage NOT EXISTS", {"ctr", "resnet", "tagger"}),
        ("tags.team = risk AND tags.stage = prod", {"fraud"}),
        ("tags.team = risk AND NOT tags.stage = prod", set()),
        ("Tags.team = 'risk'", {"fraud"}),
    ],
)
def test_tags(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('name LIKE "ads/%"', {"fraud", "ctr"}),
        ('name NOT LIKE "ads/%"', {"resnet", "tagger"}),
        ('name GLOB "ads/*"', {"fraud", "ctr"}),
        ('name GLOB "*/c?r"', {"ctr"}),
        ('name NOT GLOB "*/*r*"', set()),
        ('name LIKE "%/___"', {"ctr"}),
        # matching is case-sensitive on both databases, like "="
        ('name LIKE "ADS/%"', set()),
        ('name GLOB "ADS/*"', set()),
        # a literal % or _ in the data: escaped in LIKE, plain in GLOB
        (r'tags.note LIKE "100\%%"', {"ctr"}),
        ('tags.note LIKE "100%"', {"ctr"}),
        ('tags.note GLOB "100%*"', {"ctr"}),
        ('tags.note GLOB "100*"', {"ctr"}),
        ('tags.note GLOB "a_b"', {"resnet"}),
        ('tags.note LIKE "a_b"', {"resnet", "fraud"}),
        (r'tags.note LIKE "a\_b"', {"resnet"}),
        ('tags.note GLOB "a?b"', {"resnet", "fraud"}),
        (r'tags.note GLOB "a\?b"', set()),
        ('description LIKE "%detection%"', {"fraud"}),
    ],
)
def test_like_and_glob(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("owner = alice", {"fraud"}),
        ("owner != alice", {"ctr", "tagger"}),
        ("NOT owner = alice", {"ctr", "resnet", "tagger"}),
        ("owner EXISTS", {"fraud", "ctr", "tagger"}),
        ("NOT owner EXISTS", {"resnet"}),
        ("owner IN (bob, carol)", {"ctr", "tagger"}),
        ("risk = high", {"fraud"}),
        ("risk != high", {"ctr", "tagger"}),
        ("risk IN (minimal, limited)", {"ctr", "tagger"}),
        ("risk >= limited", {"fraud", "tagger"}),
        ("risk < high", {"ctr", "tagger"}),
        ("risk > unacceptable", set()),
        ("NOT risk EXISTS", {"resnet"}),
        ("created_by = seeder", {"fraud", "ctr", "resnet", "tagger"}),
        ("card_completeness >= 0.5", {"fraud"}),
        ("card_completeness < 0.5", {"ctr"}),
        ("card_completeness EXISTS", {"fraud", "ctr"}),
        ("NOT card_completeness > 0.5", {"ctr", "resnet", "tagger"}),
    ],
)
def test_owner_risk_and_columns(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('created >= "2026-02-01" AND created < "2026-03-06"', {"ctr", "resnet"}),
        ('created < "2026-01-10T09:00:00Z"', set()),
        ('created <= "2026-01-10T09:00Z"', {"fraud"}),
        ('created = "2026-03-05"', {"resnet"}),  # a date alone is midnight UTC
        ('created = "2026-03-05T01:00+01:00"', {"resnet"}),  # offsets are converted
        ('created > "2026-03-05T00:00:00.000001"', {"tagger"}),
        ("created IN ('2026-03-05', '2026-03-06')", {"resnet", "tagger"}),
        ('updated >= "2026-03-01"', {"resnet", "tagger"}),
    ],
)
def test_timestamps(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("alias = production", {"fraud"}),
        ("alias EXISTS", {"fraud", "ctr"}),
        ("NOT alias EXISTS", {"resnet", "tagger"}),
        ("alias != production", {"ctr"}),
        ("format = onnx", {"fraud", "ctr"}),
        ("format = sklearn", {"fraud"}),
        ("format = pytorch", set()),  # only on a deleted version
        ("format EXISTS", {"fraud", "ctr"}),
        ("format != onnx", set()),
        ("NOT format = onnx", {"resnet", "tagger"}),
    ],
)
def test_alias_and_format(search, catalog, query, expected) -> None:
    assert found(search, catalog, query) == expected


def test_deleted_models_are_excluded_unless_asked_for(search, catalog) -> None:
    assert found(search, catalog, "owner = alice") == {"fraud"}
    assert found(search, catalog, "owner = alice", include_deleted=True) == {"fraud", "legacy"}
    assert found(search, catalog, "", include_deleted=True) == set(catalog.models)


def test_boolean_logic_combines(search, catalog) -> None:
    query = "(tags.team = ads OR risk = high) AND NOT (owner = bob) OR name = 'nlp/tagger'"
    assert found(search, catalog, query) == {"fraud", "tagger"}


def test_backslashes_in_the_data_match_when_escaped(db, search) -> None:
    with db.write() as conn:
        seed = Seed(conn)
        windows = seed.model("win", tags={"path": "C:\\temp\\x_1"})
        seed.model("unix", tags={"path": "/tmp/x_1"})
    # The query text "C:\\\\%" is the pattern C:\\% : a literal backslash, then anything.
    for query in (
        r'tags.path LIKE "C:\\\\%"',
        r'tags.path GLOB "C:\\\\*"',
        r'tags.path LIKE "%\\\\x\_1"',
        r'tags.path = "C:\\temp\\x_1"',
    ):
        assert search.search_models(ADMIN, query).ids == [windows], query
    assert search.search_models(ADMIN, r'tags.path LIKE "C:\\%"').ids == []  # C:% literally


def test_words_in_any_script_are_searched(db, search) -> None:
    with db.write() as conn:
        model = Seed(conn).model("m", description="Überwachung der Qualität, naïve café")
    assert search.search_models(ADMIN, '"überwachung café"').ids == [model]
    assert search.search_models(ADMIN, '"日本語 テキスト"').ids == []
