"""Model governance fields (owner, contacts, risk) and model cards over HTTP: the
model's card at ``/models/{name}/-/card`` and each version's own card."""

from __future__ import annotations

import pytest

from tests.api.helpers import (
    API,
    as_user,
    assert_json,
    assert_problem,
    commit,
    create_model,
    entry,
    model_url,
    put_blob,
)
from tests.api.lineage_helpers import push_version, search

NAME = "ads/rec"
ALL_SECTIONS = [
    "intended_use",
    "out_of_scope_use",
    "training_data",
    "evaluation",
    "limitations",
    "ethical_considerations",
]
HALF_CARD = """---
license: mit
tags: [ads, ranking]
---
# ads/rec
## Intended use
Ranking ads on the front page.
## Training data
Clicks of October.
### Evaluation results
AUC 0.91 on the holdout.
## Limitations
[More Information Needed]
"""
FULL_CARD = """# ads/rec
## Uses
Ranking.
## Out-of-scope use
Credit scoring.
## Data
Clicks.
## Results
AUC 0.9.
## Bias, risks, and limitations
Cold start.
## Ethics
Reviewed by the board.
"""


def card_url(name: str = NAME) -> str:
    return model_url(name, "card")


def put_card(api, text: str, name: str = NAME, **headers: str):
    return api.put(card_url(name), json={"card": text}, headers=headers)


# --- owner, contacts, risk ------------------------------------------------------------


def test_model_created_with_owner_contacts_and_risk_reads_them_back(api) -> None:
    fields = {
        "owner": "team-ads",
        "contacts": ["alice@example.com", "#ads-oncall"],
        "risk_level": "high",
        "risk_reason": "Profiles users for ad targeting",
    }
    created = assert_json(create_model(api, NAME, **fields), 201)
    read = assert_json(api.get(model_url(NAME)), 200)
    listed = assert_json(api.get(f"{API}/models"), 200)["items"][0]
    for model in (created, read, listed):
        assert {k: model[k] for k in fields} == fields


def test_model_without_governance_fields_has_empty_ones(api) -> None:
    model = assert_json(create_model(api, NAME), 201)
    assert (model["owner"], model["contacts"], model["risk_level"]) == (None, [], None)
    assert (model["risk_reason"], model["card_completeness"]) == ("", None)
    assert assert_json(create_model(api, "ads/blank", owner=""), 201)["owner"] is None


def test_every_risk_level_is_accepted_and_others_are_422_invalid_input(api) -> None:
    for level in ("minimal", "limited", "high", "unacceptable"):
        model = assert_json(create_model(api, f"ads/{level}", risk_level=level), 201)
        assert model["risk_level"] == level
    for level in ("High", "severe", "", 3):
        assert_problem(create_model(api, NAME, risk_level=level), 422, "INVALID_INPUT", level)
        response = api.patch(model_url("ads/high"), json={"risk_level": level})
        assert_problem(response, 422, "INVALID_INPUT", level)
    assert_problem(api.get(model_url(NAME)), 404, "MODEL_NOT_FOUND")
    assert assert_json(api.get(model_url("ads/high")), 200)["risk_level"] == "high"


def test_patch_changes_only_the_governance_fields_given(api) -> None:
    create_model(
        api, NAME, owner="team-ads", contacts=["a@x"], risk_level="high", risk_reason="why"
    )
    patched = assert_json(
        api.patch(model_url(NAME), json={"owner": "team-risk"}, headers=as_user(api, "carol")), 200
    )
    assert (patched["owner"], patched["contacts"]) == ("team-risk", ["a@x"])
    assert (patched["risk_level"], patched["risk_reason"]) == ("high", "why")
    assert patched["updated_by"] == "carol"
    patched = assert_json(
        api.patch(model_url(NAME), json={"risk_level": "limited", "contacts": ["b@x", "c@x"]}),
        200,
    )
    assert (patched["owner"], patched["contacts"]) == ("team-risk", ["b@x", "c@x"])
    assert (patched["risk_level"], patched["risk_reason"]) == ("limited", "why")
    described = assert_json(api.patch(model_url(NAME), json={"description": "d"}), 200)
    assert {k: described[k] for k in ("owner", "contacts", "risk_level", "risk_reason")} == {
        "owner": "team-risk",
        "contacts": ["b@x", "c@x"],
        "risk_level": "limited",
        "risk_reason": "why",
    }


def test_patch_clears_governance_fields(api) -> None:
    create_model(
        api, NAME, owner="team-ads", contacts=["a@x"], risk_level="high", risk_reason="why"
    )
    cleared = assert_json(
        api.patch(model_url(NAME), json={"owner": "", "contacts": [], "risk_reason": ""}), 200
    )
    assert (cleared["owner"], cleared["contacts"], cleared["risk_reason"]) == (None, [], "")
    assert cleared["risk_level"] == "high"
    cleared = assert_json(api.patch(model_url(NAME), json={"risk_level": None}), 200)
    assert cleared["risk_level"] is None
    assert assert_json(api.get(model_url(NAME)), 200)["owner"] is None
    api.patch(model_url(NAME), json={"owner": "x"})
    assert assert_json(api.patch(model_url(NAME), json={"owner": None}), 200)["owner"] is None


def test_malformed_governance_fields_are_refused(api) -> None:
    create_model(api, NAME, owner="team-ads")
    cases = {
        "empty contact": ({"contacts": [""]}, 400),
        "long contact": ({"contacts": ["c" * 321]}, 400),
        "NUL in owner": ({"owner": "a\x00b"}, 400),
        "NUL in reason": ({"risk_reason": "a\x00b"}, 400),
        "NUL in contact": ({"contacts": ["a\x00b"]}, 400),
        "long owner": ({"owner": "o" * 129}, 422),
        "long reason": ({"risk_reason": "r" * 5001}, 422),
        "too many contacts": ({"contacts": [f"c{i}" for i in range(51)]}, 422),
        "contacts not a list": ({"contacts": "a@x"}, 422),
    }
    for case, (fields, status) in cases.items():
        assert_problem(api.patch(model_url(NAME), json=fields), status, "INVALID_INPUT", case)
        response = create_model(api, "ads/new", **fields)
        assert_problem(response, status, "INVALID_INPUT", case)
    assert assert_json(api.get(model_url(NAME)), 200)["owner"] == "team-ads"
    assert_problem(api.get(model_url("ads/new")), 404, "MODEL_NOT_FOUND")


# --- the model's card -----------------------------------------------------------------


def test_model_without_a_card_lacks_every_section(api) -> None:
    create_model(api, NAME)
    assert assert_json(api.get(card_url()), 200) == {
        "card": None,
        "completeness": None,
        "missing": ALL_SECTIONS,
        "front_matter": {},
    }


def test_put_card_reports_completeness_missing_sections_and_front_matter(api) -> None:
    create_model(api, NAME)
    put = assert_json(put_card(api, HALF_CARD, **as_user(api, "dana")), 200)
    assert put == {
        "card": HALF_CARD,
        "completeness": 0.5,
        "missing": ["out_of_scope_use", "limitations", "ethical_considerations"],
        "front_matter": {"license": "mit", "tags": ["ads", "ranking"]},
    }
    assert assert_json(api.get(card_url()), 200) == put
    model = assert_json(api.get(model_url(NAME)), 200)
    assert (model["card_completeness"], model["updated_by"]) == (0.5, "dana")


def test_card_with_every_section_under_accepted_titles_is_complete(api) -> None:
    create_model(api, NAME)
    card = assert_json(put_card(api, FULL_CARD), 200)
    assert (card["completeness"], card["missing"], card["front_matter"]) == (1.0, [], {})


def test_put_card_replaces_it_and_delete_removes_it(api) -> None:
    create_model(api, NAME)
    put_card(api, FULL_CARD)
    replaced = assert_json(put_card(api, HALF_CARD), 200)
    assert (replaced["card"], replaced["completeness"]) == (HALF_CARD, 0.5)
    deleted = assert_json(api.delete(card_url()), 200)
    assert deleted == {
        "card": None,
        "completeness": None,
        "missing": ALL_SECTIONS,
        "front_matter": {},
    }
    assert assert_json(api.get(card_url()), 200) == deleted
    assert assert_json(api.get(model_url(NAME)), 200)["card_completeness"] is None


def test_card_of_placeholders_only_is_zero_complete(api) -> None:
    create_model(api, NAME)
    text = "# rec\n## Intended use\n<!-- who -->\n[More Information Needed]\n## Evaluation\nTODO\n"
    card = assert_json(put_card(api, text), 200)
    assert (card["completeness"], card["missing"]) == (0.0, ALL_SECTIONS)
    assert assert_json(api.get(model_url(NAME)), 200)["card_completeness"] == 0.0


INVALID_CARDS = {
    "bad YAML": "---\nlicense: [mit\n---\n# x\n",
    "tab-indented YAML": "---\na:\n\t- b\n---\n",
    "unclosed front matter": "---\nlicense: mit\n# x\n",
    "front matter not a mapping": "---\n- a\n- b\n---\n# x\n",
    "scalar front matter": "---\njust text\n---\n# x\n",
    "non-string keys": "---\n1: a\n---\n",
    "python tag": "---\nx: !!python/object/apply:os.system [ls]\n---\n",
    "self-referencing front matter": "---\na: &a [*a]\n---\n",
    "NUL": "# x\n## Intended use\na\x00b\n",
    "too long": "x" * 200_001,
}


def test_invalid_card_is_400_card_invalid_and_keeps_the_old_one(api) -> None:
    create_model(api, NAME)
    put_card(api, FULL_CARD)
    for case, text in INVALID_CARDS.items():
        assert_problem(put_card(api, text), 400, "CARD_INVALID", case)
    assert assert_json(api.get(card_url()), 200)["card"] == FULL_CARD
    assert assert_json(api.get(model_url(NAME)), 200)["card_completeness"] == 1.0


@pytest.mark.parametrize(
    "front_matter",
    ["blob: !!binary /w==", "when: 2024-01-01", "nested: {1: x}", "ratio: .nan", "s: !!set {a}"],
)
def test_any_card_accepted_can_be_read_back(api, front_matter: str) -> None:
    """YAML holds values JSON has no form for (bytes that are not UTF-8, dates, sets):
    a card with such front matter must be refused or served, never break GET."""
    create_model(api, NAME)
    text = f"---\n{front_matter}\n---\n# x\n"
    response = put_card(api, text)
    if response.status_code != 200:
        assert_problem(response, 400, "CARD_INVALID", front_matter)
    read = api.get(card_url())
    assert read.status_code == 200, read.text
    assert read.json()["card"] == (text if response.status_code == 200 else None)


def test_card_of_a_missing_model_is_404(api) -> None:
    assert_problem(api.get(card_url("ads/none")), 404, "MODEL_NOT_FOUND")
    assert_problem(put_card(api, FULL_CARD, "ads/none"), 404, "MODEL_NOT_FOUND")
    assert_problem(api.delete(card_url("ads/none")), 404, "MODEL_NOT_FOUND")
    create_model(api, NAME)
    api.delete(model_url(NAME))
    assert_problem(api.get(card_url()), 404, "MODEL_DELETED")
    assert_problem(put_card(api, FULL_CARD), 404, "MODEL_DELETED")


def test_put_card_without_text_is_422_invalid_input(api) -> None:
    create_model(api, NAME)
    for body in ({}, {"card": None}, {"card": 3}):
        response = api.put(card_url(), json=body)
        assert_problem(response, 422, "INVALID_INPUT", body)


def test_card_with_windows_line_endings_and_bom_is_parsed(api) -> None:
    create_model(api, NAME)
    text = "\ufeff---\r\nlicense: mit\r\n---\r\n## Intended use\r\nRanking.\r\n"
    card = assert_json(put_card(api, text), 200)
    assert (card["card"], card["front_matter"]) == (text, {"license": "mit"})
    assert card["completeness"] == round(1 / 6, 2)


# --- a version's own card -------------------------------------------------------------


def test_version_card_from_the_commit_is_served_separately_from_the_models(api) -> None:
    push_version(api, NAME, card=HALF_CARD)
    put_card(api, FULL_CARD)
    card = assert_json(api.get(model_url(NAME, "versions", "1", "card")), 200)
    assert (card["card"], card["completeness"]) == (HALF_CARD, 0.5)
    assert card["front_matter"] == {"license": "mit", "tags": ["ads", "ranking"]}
    version = assert_json(api.get(model_url(NAME, "versions", "1")), 200)
    assert version["card_completeness"] == 0.5
    assert assert_json(api.get(model_url(NAME)), 200)["card_completeness"] == 1.0


def test_version_without_a_card_lacks_every_section(api) -> None:
    push_version(api, NAME)
    card = assert_json(api.get(model_url(NAME, "versions", "1", "card")), 200)
    assert (card["card"], card["completeness"], card["missing"]) == (None, None, ALL_SECTIONS)


def test_invalid_version_card_is_400_card_invalid_and_commits_nothing(api) -> None:
    put_blob(api, b"w")
    for case, text in INVALID_CARDS.items():
        response = commit(api, NAME, [entry("w", b"w")], card=text)
        assert_problem(response, 400, "CARD_INVALID", case)
    assert_problem(api.get(model_url(NAME)), 404, "MODEL_NOT_FOUND")


def test_any_version_card_accepted_can_be_read_back(api) -> None:
    put_blob(api, b"w")
    text = "---\nblob: !!binary /w==\n---\n# x\n"
    response = commit(api, NAME, [entry("w", b"w")], card=text)
    if response.status_code != 201:
        assert_problem(response, 400, "CARD_INVALID")
        return
    read = api.get(model_url(NAME, "versions", "1", "card"))
    assert read.status_code == 200, read.text
    assert read.json()["card"] == text


def test_card_of_a_deleted_version_is_still_readable(api) -> None:
    push_version(api, NAME, card=FULL_CARD)
    push_version(api, NAME, b"2")
    api.delete(model_url(NAME, "versions", "1"))
    assert assert_json(api.get(model_url(NAME, "versions", "1", "card")), 200)["card"] == FULL_CARD


def test_card_of_an_unknown_version_is_404_version_not_found(api) -> None:
    push_version(api, NAME)
    response = api.get(model_url(NAME, "versions", "2", "card"))
    assert_problem(response, 404, "VERSION_NOT_FOUND")


# --- free text: what the server indexes for search ------------------------------------


def test_model_card_words_are_found_until_the_card_changes(api) -> None:
    create_model(api, NAME)
    create_model(api, "ads/other")
    put_card(api, "# rec\n## Intended use\nRanking with quokkas.\n")
    assert search(api, "models", "quokkas") == [NAME]
    put_card(api, "# rec\n## Intended use\nRanking with wombats.\n")
    assert search(api, "models", "quokkas") == []
    assert search(api, "models", "wombats") == [NAME]
    api.delete(card_url())
    assert search(api, "models", "wombats") == []


def test_model_description_and_owner_words_are_found_after_create_and_update(api) -> None:
    create_model(api, NAME, description="Predicts pangolin sightings", owner="team-narwhal")
    assert search(api, "models", "pangolin") == [NAME]
    assert search(api, "models", "narwhal") == [NAME]
    api.patch(model_url(NAME), json={"description": "Predicts axolotl sightings", "owner": ""})
    assert (search(api, "models", "pangolin"), search(api, "models", "narwhal")) == ([], [])
    assert search(api, "models", "axolotl") == [NAME]


def test_version_card_description_and_dataset_words_are_found(api) -> None:
    push_version(
        api,
        NAME,
        description="Trained on capybara clicks",
        card="# v1\n## Evaluation\nMeasured on okapi traffic.\n",
        lineage={"datasets": [{"uri": "s3://data/tapir", "name": "tapirset"}]},
    )
    push_version(api, NAME, b"2", description="Plain")
    for word in ("capybara", "okapi", "tapirset"):
        assert search(api, "versions", word) == [f"{NAME}:1"], word
