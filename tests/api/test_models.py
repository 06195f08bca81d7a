"""Models over HTTP: create, read, update, tags, soft delete, restore and listing."""

from __future__ import annotations

import pytest

from modeldepot.registry.pagination import encode_cursor
from tests.api.helpers import (
    API,
    as_user,
    assert_json,
    assert_problem,
    commit,
    create_model,
    entry,
    model_url,
    push,
)


def list_names(api, **params) -> tuple[list[str], str | None]:
    page = assert_json(api.get(f"{API}/models", params=params), 200)
    return [m["name"] for m in page["items"]], page["next_cursor"]


def test_create_model_answers_201_with_the_model(api) -> None:
    model = assert_json(
        create_model(api, "ads/rec", description="recommender", tags={"team": "ads"}), 201
    )
    assert model["name"] == "ads/rec"
    assert model["description"] == "recommender"
    assert model["tags"] == {"team": "ads"}
    assert model["latest_version"] is None
    assert model["deleted_at"] is None
    assert assert_json(api.get(model_url("ads/rec")), 200) == model


def test_creating_an_existing_model_is_409_model_exists(api) -> None:
    assert_json(create_model(api, "ads/rec"), 201)
    body = assert_problem(create_model(api, "ads/rec"), 409, "MODEL_EXISTS")
    assert body["model"] == "ads/rec"


INVALID_NAMES = {
    "uppercase": "Ads/rec",
    "dotdot segment": "ads/../rec",
    "dotdot inside": "ads..rec",
    "leading slash": "/ads/rec",
    "empty segment": "ads//rec",
    "trailing slash": "ads/rec/",
    "empty": "",
    "too long": "a" * 201,
    "segment starting with dash": "ads/-rec",
    "starting with dash": "-ads",
    "space": "ads/r c",
}


def test_invalid_model_names_are_400_name_invalid(api) -> None:
    for case, name in INVALID_NAMES.items():
        assert_problem(create_model(api, name), 400, "NAME_INVALID", case)
    assert list_names(api) == ([], None)


def test_name_of_exactly_200_characters_is_accepted(api) -> None:
    name = "a" * 100 + "/" + "b" * 99
    assert assert_json(create_model(api, name), 201)["name"] == name


def test_invalid_model_name_in_url_is_400_name_invalid(api) -> None:
    assert_problem(api.get(model_url("Ads/Rec")), 400, "NAME_INVALID")


def test_get_unknown_model_is_404_model_not_found(api) -> None:
    body = assert_problem(api.get(model_url("ads/none")), 404, "MODEL_NOT_FOUND")
    assert body["model"] == "ads/none"


def test_patch_sets_description_merges_tags_and_removes_tags(api) -> None:
    create_model(api, "ads/rec", description="old", tags={"a": "1", "b": "2"})
    updated = assert_json(
        api.patch(
            model_url("ads/rec"),
            json={"description": "new", "tags": {"b": "3", "c": "4"}, "remove_tags": ["a"]},
        ),
        200,
    )
    assert updated["description"] == "new"
    assert updated["tags"] == {"b": "3", "c": "4"}


def test_patch_without_description_keeps_it(api) -> None:
    create_model(api, "ads/rec", description="keep me")
    updated = assert_json(api.patch(model_url("ads/rec"), json={"tags": {"k": "v"}}), 200)
    assert (updated["description"], updated["tags"]) == ("keep me", {"k": "v"})


def test_patch_unknown_model_is_404_model_not_found(api) -> None:
    assert_problem(
        api.patch(model_url("ads/none"), json={"description": "x"}), 404, "MODEL_NOT_FOUND"
    )


def test_model_tag_put_then_delete(api) -> None:
    create_model(api, "ads/rec", tags={"keep": "yes"})
    tagged = assert_json(
        api.put(model_url("ads/rec", "tags", "stage"), json={"value": "prod"}), 200
    )
    assert tagged["tags"] == {"keep": "yes", "stage": "prod"}
    moved = assert_json(api.put(model_url("ads/rec", "tags", "stage"), json={"value": "dev"}), 200)
    assert moved["tags"]["stage"] == "dev"
    untagged = assert_json(api.delete(model_url("ads/rec", "tags", "stage")), 200)
    assert untagged["tags"] == {"keep": "yes"}
    assert assert_json(api.get(model_url("ads/rec")), 200)["tags"] == {"keep": "yes"}


def test_model_tag_whose_key_has_a_slash_can_be_set_and_deleted(api) -> None:
    create_model(api, "ads/rec")
    url = model_url("ads/rec", "tags", "team/owner")
    assert assert_json(api.put(url, json={"value": "a"}), 200)["tags"] == {"team/owner": "a"}
    assert assert_json(api.delete(url), 200)["tags"] == {}


def test_model_tag_whose_key_has_a_slash_can_be_removed_by_patch(api) -> None:
    create_model(api, "ads/rec", tags={"team/owner": "a", "k": "v"})
    patched = api.patch(model_url("ads/rec"), json={"remove_tags": ["team/owner"]})
    assert assert_json(patched, 200)["tags"] == {"k": "v"}


def test_deleting_unknown_model_tag_is_404_tag_not_found(api) -> None:
    create_model(api, "ads/rec")
    assert_problem(api.delete(model_url("ads/rec", "tags", "nope")), 404, "TAG_NOT_FOUND")


def test_soft_deleted_model_is_404_model_deleted(api) -> None:
    create_model(api, "ads/rec")
    deleted = assert_json(api.delete(model_url("ads/rec"), headers=as_user(api, "carol")), 200)
    assert deleted["deleted_at"] is not None
    assert deleted["deleted_by"] == "carol"
    body = assert_problem(api.get(model_url("ads/rec")), 404, "MODEL_DELETED")
    assert body["model"] == "ads/rec"


def test_include_deleted_shows_a_deleted_model_in_get_and_list(api) -> None:
    create_model(api, "ads/live")
    create_model(api, "ads/rec")
    api.delete(model_url("ads/rec"))
    shown = assert_json(api.get(model_url("ads/rec"), params={"include_deleted": "true"}), 200)
    assert shown["deleted_by"] is not None
    assert list_names(api)[0] == ["ads/live"]
    assert list_names(api, include_deleted="true")[0] == ["ads/live", "ads/rec"]


def test_restore_brings_a_deleted_model_back(api) -> None:
    create_model(api, "ads/rec", description="d")
    api.delete(model_url("ads/rec"))
    restored = assert_json(
        api.post(model_url("ads/rec", "restore"), headers=as_user(api, "dave")), 200
    )
    assert (restored["deleted_at"], restored["deleted_by"]) == (None, None)
    assert restored["updated_by"] == "dave"
    assert assert_json(api.get(model_url("ads/rec")), 200)["description"] == "d"


def test_restore_unknown_model_is_404_model_not_found(api) -> None:
    assert_problem(api.post(model_url("ads/none", "restore")), 404, "MODEL_NOT_FOUND")


def test_name_of_a_deleted_model_stays_taken(api) -> None:
    create_model(api, "ads/rec")
    api.delete(model_url("ads/rec"))
    assert_problem(create_model(api, "ads/rec"), 409, "MODEL_EXISTS")


def test_list_pages_through_models_in_name_order(api) -> None:
    for name in ["m/e", "m/b", "m/d", "m/a", "m/c"]:
        create_model(api, name)
    pages: list[list[str]] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        names, cursor = list_names(api, **params)
        pages.append(names)
        if cursor is None:
            break
    assert pages == [["m/a", "m/b"], ["m/c", "m/d"], ["m/e"]]


def test_list_with_exactly_a_full_last_page_ends_without_cursor(api) -> None:
    for name in ["m/a", "m/b", "m/c", "m/d"]:
        create_model(api, name)
    names, cursor = list_names(api, limit=2)
    assert (names, cursor is not None) == (["m/a", "m/b"], True)
    assert list_names(api, limit=2, cursor=cursor) == (["m/c", "m/d"], None)


def test_list_prefix_selects_a_namespace(api) -> None:
    for name in ["ads/a", "ads/b", "adsx/c", "nlp/d"]:
        create_model(api, name)
    assert list_names(api, prefix="ads/") == (["ads/a", "ads/b"], None)
    assert list_names(api, prefix="ads") == (["ads/a", "ads/b", "adsx/c"], None)


def test_list_prefix_treats_sql_wildcards_literally(api) -> None:
    create_model(api, "ads/a")
    assert list_names(api, prefix="a_s") == ([], None)
    assert list_names(api, prefix="a%") == ([], None)


def test_list_prefix_combines_with_cursor(api) -> None:
    for name in ["a/1", "b/1", "b/2", "b/3", "c/1"]:
        create_model(api, name)
    names, cursor = list_names(api, prefix="b/", limit=2)
    assert names == ["b/1", "b/2"]
    assert list_names(api, prefix="b/", limit=2, cursor=cursor) == (["b/3"], None)


def test_malformed_cursor_is_400_cursor_invalid(api) -> None:
    cursors = {
        "not base64": "!!!not-base64!!!",
        "not json": "bm90IGpzb24",
        "wrong type": encode_cursor(5),
        "wrong arity": encode_cursor("a", "b"),
    }
    for case, cursor in cursors.items():
        response = api.get(f"{API}/models", params={"cursor": cursor})
        assert_problem(response, 400, "CURSOR_INVALID", case)


def test_limit_outside_1_to_1000_is_400_cursor_invalid(api) -> None:
    for limit in (0, -1, 1001):
        response = api.get(f"{API}/models", params={"limit": limit})
        assert_problem(response, 400, "CURSOR_INVALID", limit)


def test_limit_of_1000_is_accepted(api) -> None:
    create_model(api, "ads/rec")
    assert list_names(api, limit=1000) == (["ads/rec"], None)


def test_authenticated_principal_is_recorded_as_created_by_and_updated_by(api) -> None:
    created = assert_json(
        api.post(f"{API}/models", json={"name": "ads/rec"}, headers=as_user(api, "alice")), 201
    )
    assert (created["created_by"], created["updated_by"]) == ("alice", "alice")
    updated = assert_json(
        api.patch(model_url("ads/rec"), json={"description": "x"}, headers=as_user(api, "bob")), 200
    )
    assert (updated["created_by"], updated["updated_by"]) == ("alice", "bob")
    assert updated["updated_at"] >= created["updated_at"]


def test_a_declared_actor_header_is_ignored(api) -> None:
    """Identity comes only from credentials: the old actor header changes nothing."""
    headers = {**as_user(api, "alice"), "X-Modeldepot-Actor": "mallory"}
    created = assert_json(api.post(f"{API}/models", json={"name": "ads/rec"}, headers=headers), 201)
    assert (created["created_by"], created["updated_by"]) == ("alice", "alice")


def test_push_to_deleted_model_is_404_model_deleted_until_restored(api) -> None:
    push(api, "ads/rec")
    api.delete(model_url("ads/rec"))
    response = commit(api, "ads/rec", [entry("model.bin", b"weights")])
    assert_problem(response, 404, "MODEL_DELETED")
    api.post(model_url("ads/rec", "restore"))
    assert push(api, "ads/rec")["number"] == 2


def test_latest_version_follows_pushes(api) -> None:
    create_model(api, "ads/rec")
    push(api, "ads/rec")
    push(api, "ads/rec")
    assert assert_json(api.get(model_url("ads/rec")), 200)["latest_version"] == 2


@pytest.mark.parametrize("field", ["description", "tag"])
def test_nul_byte_in_model_text_is_400_metadata_invalid(api, field: str) -> None:
    body = {"description": "a\x00b"} if field == "description" else {"tags": {"k": "a\x00b"}}
    assert_problem(create_model(api, "ads/rec", **body), 400, "METADATA_INVALID")


def test_nul_byte_in_list_prefix_is_400_invalid_input(api) -> None:
    create_model(api, "ads/rec")
    response = api.get(f"{API}/models", params={"prefix": "ads\x00"})
    assert_problem(response, 400, "INVALID_INPUT")
