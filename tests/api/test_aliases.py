"""Aliases over HTTP: set, move, compare-and-set, delete, and their history."""

from __future__ import annotations

import pytest

from tests.api.helpers import (
    as_user,
    assert_json,
    assert_problem,
    model_url,
    push,
    resolve,
)

NAME = "ads/rec"


@pytest.fixture
def three_versions(api) -> None:
    for i in range(1, 4):
        push(api, NAME, {"w": str(i).encode()})


def set_alias(api, alias: str, version: int, *, actor: str | None = None, **fields):
    headers = as_user(api, actor) if actor else {}
    return api.put(
        model_url(NAME, "aliases", alias), json={"version": version, **fields}, headers=headers
    )


def history(api, alias: str | None = None, **params) -> list[tuple]:
    url = (
        model_url(NAME, "aliases", alias, "history") if alias else model_url(NAME, "alias-history")
    )
    page = assert_json(api.get(url, params=params), 200)
    return [(e["alias"], e["from_version"], e["to_version"], e["actor"]) for e in page["items"]]


def aliases_of(api, number: int) -> list[str]:
    return assert_json(api.get(model_url(NAME, "versions", str(number))), 200)["aliases"]


@pytest.mark.usefixtures("three_versions")
def test_put_alias_sets_it_and_get_reads_it(api) -> None:
    created = assert_json(set_alias(api, "prod", 1, actor="alice"), 200)
    assert (created["model"], created["name"], created["version"]) == (NAME, "prod", 1)
    assert (created["created_by"], created["updated_by"]) == ("alice", "alice")
    assert assert_json(api.get(model_url(NAME, "aliases", "prod")), 200) == created
    assert assert_json(resolve(api, f"{NAME}@prod"), 200)["number"] == 1
    assert aliases_of(api, 1) == ["prod"]


@pytest.mark.usefixtures("three_versions")
def test_put_alias_again_moves_it(api) -> None:
    set_alias(api, "prod", 1, actor="alice")
    moved = assert_json(set_alias(api, "prod", 3, actor="bob"), 200)
    assert (moved["version"], moved["created_by"], moved["updated_by"]) == (3, "alice", "bob")
    assert assert_json(resolve(api, f"{NAME}@prod"), 200)["number"] == 3
    assert (aliases_of(api, 1), aliases_of(api, 3)) == ([], ["prod"])


@pytest.mark.usefixtures("three_versions")
def test_list_aliases_is_ordered_by_name_and_pages(api) -> None:
    for alias, version in [("shadow", 2), ("canary", 3), ("prod", 1)]:
        set_alias(api, alias, version)
    first = assert_json(api.get(model_url(NAME, "aliases"), params={"limit": 2}), 200)
    assert [(a["name"], a["version"]) for a in first["items"]] == [("canary", 3), ("prod", 1)]
    params = {"limit": 2, "cursor": first["next_cursor"]}
    rest = assert_json(api.get(model_url(NAME, "aliases"), params=params), 200)
    assert ([a["name"] for a in rest["items"]], rest["next_cursor"]) == (["shadow"], None)


@pytest.mark.usefixtures("three_versions")
def test_delete_alias_removes_it(api) -> None:
    set_alias(api, "prod", 2)
    response = api.delete(model_url(NAME, "aliases", "prod"))
    assert (response.status_code, response.content) == (204, b"")
    assert_problem(api.get(model_url(NAME, "aliases", "prod")), 404, "ALIAS_NOT_FOUND")
    assert_problem(resolve(api, f"{NAME}@prod"), 404, "ALIAS_NOT_FOUND")
    assert assert_json(api.get(model_url(NAME, "aliases")), 200)["items"] == []
    assert assert_json(api.delete(model_url(NAME, "versions", "2")), 200)["number"] == 2


def test_unknown_alias_is_404_alias_not_found(api) -> None:
    push(api, NAME)
    for method in ("GET", "DELETE"):
        response = api.request(method, model_url(NAME, "aliases", "nope"))
        assert_problem(response, 404, "ALIAS_NOT_FOUND", method)


def test_latest_cannot_be_set_400_alias_invalid(api) -> None:
    push(api, NAME)
    assert_problem(set_alias(api, "latest", 1), 400, "ALIAS_INVALID")
    assert assert_json(api.get(model_url(NAME, "aliases")), 200)["items"] == []


def test_invalid_alias_name_is_400_alias_invalid(api) -> None:
    push(api, NAME)
    invalid = {
        "uppercase": "Prod",
        "digit first": "1prod",
        "dash first": "-prod",
        "underscore first": "_prod",
        "dot": "prod.v2",
        "too long": "a" * 64,
    }
    for case, alias in invalid.items():
        for method in ("PUT", "GET", "DELETE"):
            response = api.request(method, model_url(NAME, "aliases", alias), json={"version": 1})
            assert_problem(response, 400, "ALIAS_INVALID", (method, case))
    assert history(api) == []


def test_alias_of_63_characters_is_accepted(api) -> None:
    push(api, NAME)
    assert assert_json(set_alias(api, "a" * 63, 1), 200)["name"] == "a" * 63


@pytest.mark.usefixtures("three_versions")
def test_alias_to_unknown_version_is_404_version_not_found(api) -> None:
    assert_problem(set_alias(api, "prod", 9), 404, "VERSION_NOT_FOUND")
    assert_problem(api.get(model_url(NAME, "aliases", "prod")), 404, "ALIAS_NOT_FOUND")


@pytest.mark.usefixtures("three_versions")
def test_alias_to_deleted_version_is_404_version_deleted(api) -> None:
    api.delete(model_url(NAME, "versions", "2"))
    assert_problem(set_alias(api, "prod", 2), 404, "VERSION_DELETED")
    assert history(api) == []


def test_alias_on_unknown_model_is_404_model_not_found(api) -> None:
    assert_problem(set_alias(api, "prod", 1), 404, "MODEL_NOT_FOUND")
    assert_problem(api.get(model_url(NAME, "aliases")), 404, "MODEL_NOT_FOUND")


def test_alias_version_that_is_not_a_positive_integer_is_422(api) -> None:
    push(api, NAME)
    for version in (0, -1, "one", None, 1.5):
        assert_problem(set_alias(api, "prod", version), 422, "INVALID_INPUT", version)


def test_alias_version_beyond_the_column_range_is_422_invalid_input(api) -> None:
    push(api, NAME)
    for number in (2**31, 10**20):
        assert_problem(set_alias(api, "prod", number), 422, "INVALID_INPUT", number)


@pytest.mark.usefixtures("three_versions")
def test_expected_version_moves_the_alias_only_from_there(api) -> None:
    set_alias(api, "prod", 1)
    assert assert_json(set_alias(api, "prod", 2, expected_version=1), 200)["version"] == 2
    body = assert_problem(set_alias(api, "prod", 3, expected_version=1), 409, "ALIAS_CONFLICT")
    assert body["current"] == 2
    assert assert_json(api.get(model_url(NAME, "aliases", "prod")), 200)["version"] == 2
    assert len(history(api, "prod")) == 2


@pytest.mark.usefixtures("three_versions")
def test_expected_version_0_sets_the_alias_only_if_unset(api) -> None:
    assert assert_json(set_alias(api, "prod", 1, expected_version=0), 200)["version"] == 1
    body = assert_problem(set_alias(api, "prod", 2, expected_version=0), 409, "ALIAS_CONFLICT")
    assert body["current"] == 1


@pytest.mark.usefixtures("three_versions")
def test_expected_version_on_an_unset_alias_is_409_alias_conflict(api) -> None:
    body = assert_problem(set_alias(api, "prod", 2, expected_version=1), 409, "ALIAS_CONFLICT")
    assert body["current"] is None
    assert_problem(api.get(model_url(NAME, "aliases", "prod")), 404, "ALIAS_NOT_FOUND")


@pytest.mark.usefixtures("three_versions")
def test_alias_history_lists_its_changes_newest_first(api) -> None:
    set_alias(api, "prod", 1, actor="alice")
    set_alias(api, "prod", 2, actor="bob")
    api.delete(model_url(NAME, "aliases", "prod"), headers=as_user(api, "carol"))
    assert history(api, "prod") == [
        ("prod", 2, None, "carol"),
        ("prod", 1, 2, "bob"),
        ("prod", None, 1, "alice"),
    ]
    page = assert_json(api.get(model_url(NAME, "aliases", "prod", "history")), 200)
    times = [e["at"] for e in page["items"]]
    assert times == sorted(times, reverse=True)
    assert {e["model"] for e in page["items"]} == {NAME}


@pytest.mark.usefixtures("three_versions")
def test_model_alias_history_covers_every_alias_newest_first(api) -> None:
    set_alias(api, "prod", 1, actor="a")
    set_alias(api, "canary", 2, actor="b")
    set_alias(api, "prod", 3, actor="c")
    assert history(api) == [
        ("prod", 1, 3, "c"),
        ("canary", None, 2, "b"),
        ("prod", None, 1, "a"),
    ]
    assert history(api, "canary") == [("canary", None, 2, "b")]


@pytest.mark.usefixtures("three_versions")
def test_alias_history_pages_with_cursor(api) -> None:
    for version in (1, 2, 3, 1):
        set_alias(api, "prod", version)
    first = assert_json(api.get(model_url(NAME, "alias-history"), params={"limit": 3}), 200)
    assert [e["to_version"] for e in first["items"]] == [1, 3, 2]
    params = {"limit": 3, "cursor": first["next_cursor"]}
    rest = assert_json(api.get(model_url(NAME, "alias-history"), params=params), 200)
    assert ([e["to_version"] for e in rest["items"]], rest["next_cursor"]) == ([1], None)


@pytest.mark.usefixtures("three_versions")
def test_setting_an_alias_to_the_version_it_holds_records_no_event(api) -> None:
    first = assert_json(set_alias(api, "prod", 1, actor="alice"), 200)
    again = assert_json(set_alias(api, "prod", 1, actor="bob"), 200)
    assert again == first
    assert history(api, "prod") == [("prod", None, 1, "alice")]


def test_history_of_an_alias_never_set_is_empty(api) -> None:
    push(api, NAME)
    assert history(api, "never") == []


def test_alias_history_of_an_invalid_alias_is_400_alias_invalid(api) -> None:
    push(api, NAME)
    response = api.get(model_url(NAME, "aliases", "Bad", "history"))
    assert_problem(response, 400, "ALIAS_INVALID")
