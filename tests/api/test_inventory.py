"""The inventory over HTTP: every live model with owner, risk, aliases, data, relations
and pulls, as JSON and as CSV; and the pull records it counts."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest

from tests.api.helpers import (
    API,
    assert_json,
    assert_problem,
    create_model,
    model_url,
)
from tests.api.lineage_helpers import (
    dataset,
    get,
    push_version,
    record_pull,
    set_alias,
)

NAME = "ads/rec"
CSV_COLUMNS = [
    "name",
    "owner",
    "contacts",
    "risk_level",
    "risk_reason",
    "card_completeness",
    "aliases",
    "latest_version",
    "version_count",
    "last_change",
    "personal_data",
    "depends_on",
    "derived_from",
    "pulls",
    "alias_status",
]
CARD = "# rec\n## Intended use\nRanking.\n## Evaluation\nAUC 0.9.\n## Limitations\nCold start.\n"


def inventory(api, **params: Any) -> dict[str, Any]:
    return assert_json(get(api, "/inventory", **params), 200)  # type: ignore[no-any-return]


def entries(api, **params: Any) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in inventory(api, **params)["models"]}


def csv_rows(api, **params: Any) -> list[dict[str, str]]:
    response = get(api, "/inventory", format="csv", **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "inventory.csv" in response.headers["content-disposition"]
    reader = csv.reader(io.StringIO(response.text, newline=""))
    header = next(reader)
    assert header == CSV_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def described(api) -> None:
    """``ads/rec``: owned, two contacts, high risk, three versions (the third deleted),
    ``prod`` on 1 and ``shadow`` on 2, personal data in version 1, relations to two
    other models, and pulls by two actors."""
    created = create_model(
        api,
        NAME,
        description="Ranks ads",
        owner="team-ads",
        contacts=["alice@example.com", "bob@example.com"],
        risk_level="high",
        risk_reason="Profiles users",
    )
    assert created.status_code == 201, created.text
    push_version(api, "ads/emb", b"emb")
    push_version(api, "ads/base", b"base")
    push_version(
        api,
        NAME,
        b"1",
        lineage={
            "datasets": [
                dataset("s3://people", personal_data=True),
                dataset("s3://clicks", personal_data=True, role="test"),
                dataset("s3://weather"),
            ],
            "depends_on": ["ads/emb:1"],
        },
    )
    push_version(api, NAME, b"2", lineage={"derived_from": ["ads/base:1", f"{NAME}:1"]})
    push_version(
        api, NAME, b"3", lineage={"datasets": [dataset("s3://secret", personal_data=True)]}
    )
    api.delete(model_url(NAME, "versions", "3"))
    set_alias(api, NAME, "shadow", 2)
    set_alias(api, NAME, "prod", 1)
    for number, actor in [(1, "alice"), (1, "bob"), (1, "alice"), (2, "carol")]:
        record_pull(api, NAME, number, actor)


# --- JSON -----------------------------------------------------------------------------


@pytest.mark.usefixtures("described")
def test_inventory_entry_holds_owner_risk_aliases_and_versions(api) -> None:
    entry = entries(api)[NAME]
    assert {k: entry[k] for k in ("description", "owner", "contacts")} == {
        "description": "Ranks ads",
        "owner": "team-ads",
        "contacts": ["alice@example.com", "bob@example.com"],
    }
    assert (entry["risk_level"], entry["risk_reason"]) == ("high", "Profiles users")
    assert entry["aliases"] == {"prod": 1, "shadow": 2}
    assert list(entry["aliases"]) == ["prod", "shadow"]
    assert (entry["latest_version"], entry["version_count"]) == (2, 2)
    assert entry["card_completeness"] is None


@pytest.mark.usefixtures("described")
def test_inventory_lists_personal_data_of_live_versions_only(api) -> None:
    assert entries(api)[NAME]["personal_data"] == ["s3://clicks", "s3://people"]
    api.put(model_url(NAME, "aliases", "prod"), json={"version": 2})
    api.delete(model_url(NAME, "versions", "1"))
    assert entries(api)[NAME]["personal_data"] == []


@pytest.mark.usefixtures("described")
def test_inventory_names_the_models_live_versions_depend_on_and_derive_from(api) -> None:
    found = entries(api)
    assert found[NAME]["depends_on"] == ["ads/emb"]
    assert found[NAME]["derived_from"] == ["ads/base", NAME]
    assert (found["ads/emb"]["depends_on"], found["ads/emb"]["derived_from"]) == ([], [])
    api.delete(model_url(NAME, "aliases", "shadow"))
    api.delete(model_url(NAME, "versions", "2"))
    assert entries(api)[NAME]["derived_from"] == []


@pytest.mark.usefixtures("described")
def test_inventory_counts_pulls_per_version_and_per_actor(api) -> None:
    assert entries(api)[NAME]["pulls"] == [
        {"number": 2, "count": 1, "by": {"carol": 1}},
        {"number": 1, "count": 3, "by": {"alice": 2, "bob": 1}},
    ]
    assert entries(api)["ads/emb"]["pulls"] == []


def test_pull_of_a_missing_version_is_404(api) -> None:
    push_version(api, NAME)
    push_version(api, NAME, b"2")
    api.delete(model_url(NAME, "versions", "2"))
    url = model_url(NAME, "versions", "{}", "pulls")
    assert_problem(api.post(url.format(9)), 404, "VERSION_NOT_FOUND")
    assert_problem(api.post(url.format(2)), 404, "VERSION_DELETED")
    assert_problem(
        api.post(model_url("ads/none", "versions", "1", "pulls")), 404, "MODEL_NOT_FOUND"
    )
    assert entries(api)[NAME]["pulls"] == []


@pytest.mark.usefixtures("described")
def test_inventory_last_change_is_the_newest_model_version_or_alias_change(api) -> None:
    history = assert_json(api.get(model_url(NAME, "alias-history"), params={"limit": 1}), 200)
    assert at(entries(api)[NAME]["last_change"]) == at(history["items"][0]["at"])
    updated = assert_json(api.patch(model_url(NAME), json={"owner": "team-risk"}), 200)
    assert at(entries(api)[NAME]["last_change"]) == at(updated["updated_at"])
    version = push_version(api, NAME, b"4")
    created = api.get(model_url(NAME, "versions", str(version))).json()["created_at"]
    assert at(entries(api)[NAME]["last_change"]) == at(created)


def test_inventory_of_a_model_without_versions(api) -> None:
    model = assert_json(create_model(api, NAME), 201)
    entry = entries(api)[NAME]
    assert (entry["latest_version"], entry["version_count"], entry["aliases"]) == (None, 0, {})
    assert (entry["owner"], entry["contacts"], entry["risk_level"]) == (None, [], None)
    assert at(entry["last_change"]) == at(model["updated_at"])


def test_inventory_leaves_out_deleted_models(api) -> None:
    push_version(api, NAME)
    push_version(api, "ads/gone")
    api.delete(model_url("ads/gone"))
    assert list(entries(api)) == [NAME]
    api.post(model_url("ads/gone", "restore"))
    assert list(entries(api)) == ["ads/gone", NAME]


def test_inventory_filters_by_name_prefix_taken_literally(api) -> None:
    for name in ("ads/a_b", "ads/axb", "risk/score"):
        push_version(api, name)
    assert list(entries(api, prefix="ads/")) == ["ads/a_b", "ads/axb"]
    assert list(entries(api, prefix="ads/a_")) == ["ads/a_b"]
    assert list(entries(api, prefix="risk")) == ["risk/score"]
    assert entries(api, prefix="none/") == {}


def test_inventory_shows_card_completeness(api) -> None:
    push_version(api, NAME)
    api.put(model_url(NAME, "card"), json={"card": CARD})
    assert entries(api)[NAME]["card_completeness"] == 0.5


def test_empty_inventory(api) -> None:
    found = inventory(api)
    assert found["models"] == []
    assert at(found["generated_at"]).tzinfo is not None
    assert csv_rows(api) == []


# --- CSV ------------------------------------------------------------------------------


@pytest.mark.usefixtures("described")
def test_inventory_csv_has_one_row_per_model_under_the_header(api) -> None:
    api.put(model_url(NAME, "card"), json={"card": CARD})
    rows = {row["name"]: row for row in csv_rows(api)}
    assert list(rows) == ["ads/base", "ads/emb", NAME]
    row = rows[NAME]
    assert row == {
        "name": NAME,
        "owner": "team-ads",
        "contacts": "alice@example.com;bob@example.com",
        "risk_level": "high",
        "risk_reason": "Profiles users",
        "card_completeness": "0.5",
        "aliases": "prod=1;shadow=2",
        "latest_version": "2",
        "version_count": "2",
        "last_change": row["last_change"],
        "personal_data": "s3://clicks;s3://people",
        "depends_on": "ads/emb",
        "derived_from": f"ads/base;{NAME}",
        "pulls": "2:carol=1;1:alice=2,bob=1",
        "alias_status": "",
    }
    assert at(row["last_change"]) == at(entries(api)[NAME]["last_change"])
    empty = rows["ads/emb"]
    assert (empty["owner"], empty["risk_level"], empty["card_completeness"]) == ("", "", "")
    assert (empty["aliases"], empty["pulls"], empty["latest_version"]) == ("", "", "1")


def test_inventory_csv_quotes_text_with_commas_quotes_and_newlines(api) -> None:
    reason = 'Scores "people",\nacross borders'
    create_model(api, NAME, risk_level="limited", risk_reason=reason, owner="a, b")
    (row,) = csv_rows(api)
    assert (row["risk_reason"], row["owner"]) == (reason, "a, b")


def test_inventory_csv_keeps_formula_like_text_from_running_in_a_spreadsheet(api) -> None:
    create_model(
        api,
        NAME,
        owner='=HYPERLINK("http://evil")',
        contacts=["+1 555 0100", "@ops"],
        risk_level="high",
        risk_reason="-2+3",
    )
    (row,) = csv_rows(api)
    assert row["owner"] == '\'=HYPERLINK("http://evil")'
    assert (row["contacts"], row["risk_reason"]) == ("'+1 555 0100;@ops", "'-2+3")
    assert entries(api)[NAME]["owner"] == '=HYPERLINK("http://evil")'  # JSON is unchanged


def test_inventory_csv_honours_the_prefix(api) -> None:
    push_version(api, NAME)
    push_version(api, "risk/score")
    assert [row["name"] for row in csv_rows(api, prefix="risk/")] == ["risk/score"]


def test_inventory_in_an_unknown_format_is_422_invalid_input(api) -> None:
    assert_problem(api.get(f"{API}/inventory", params={"format": "xml"}), 422, "INVALID_INPUT")


def test_inventory_prefix_with_a_nul_character_is_400_invalid_input(api) -> None:
    """As ``GET /models?prefix=``: PostgreSQL text cannot hold NUL."""
    push_version(api, NAME)
    for fmt in ("json", "csv"):
        response = get(api, "/inventory", prefix="ads\x00", format=fmt)
        assert_problem(response, 400, "INVALID_INPUT", fmt)
