"""Datasets over HTTP: shared records, listing, which versions used one, and which
aliases depend on it."""

from __future__ import annotations

from typing import Any

import httpx

from modeldepot.registry.pagination import encode_cursor
from tests.api.helpers import API, assert_json, assert_problem, digest_of, entry, model_url
from tests.api.lineage_helpers import (
    SHA_A,
    SHA_B,
    bearer,
    concurrently,
    dataset,
    get,
    lineage,
    push_version,
    search,
    set_alias,
)

NAME = "ads/rec"
OTHER = "ads/other"
CLICKS = "s3://data/clicks"
VIEWS = "s3://data/views"


def push_using(api, name: str, *uses: dict[str, Any], content: bytes | None = None) -> int:
    """Push a version of ``name`` that used the datasets ``uses``."""
    body = content if content is not None else repr(uses).encode()
    return push_version(api, name, body, lineage={"datasets": list(uses)})


def datasets(api, **params: Any) -> dict[str, Any]:
    return assert_json(get(api, "/datasets", **params), 200)  # type: ignore[no-any-return]


def uris(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["uri"], d["digest"]) for d in page["items"]]


def usage(api, uri: str, **params: Any) -> list[tuple[str, int, str, bool]]:
    page = assert_json(get(api, "/datasets/usage", uri=uri, **params), 200)
    return [(u["model"], u["number"], u["role"], u["deleted"]) for u in page["items"]]


def impact(api, uri: str, **params: Any) -> list[tuple[str, str, int, str]]:
    found = assert_json(get(api, "/datasets/impact", uri=uri, **params), 200)
    return [(i["model"], i["alias"], i["number"], i["role"]) for i in found]


# --- shared records -------------------------------------------------------------------


def test_versions_using_one_uri_and_digest_share_one_dataset(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A, role="train"))
    push_using(api, OTHER, dataset(CLICKS, SHA_A, role="test"))
    first = lineage(api, NAME, 1)["datasets"][0]
    second = lineage(api, OTHER, 1)["datasets"][0]
    assert first["id"] == second["id"]
    assert (first["role"], second["role"]) == ("train", "test")
    assert uris(datasets(api)) == [(CLICKS, SHA_A)]


def test_same_uri_with_another_digest_is_another_dataset(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    push_using(api, NAME, dataset(CLICKS, SHA_B))
    push_using(api, NAME, dataset(CLICKS))
    assert uris(datasets(api)) == [(CLICKS, SHA_A), (CLICKS, SHA_B), (CLICKS, "")]
    ids = {lineage(api, NAME, n)["datasets"][0]["id"] for n in (1, 2, 3)}
    assert len(ids) == 3


def test_personal_data_once_true_stays_true(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A, personal_data=True))
    push_using(api, OTHER, dataset(CLICKS, SHA_A, personal_data=False))
    (record,) = datasets(api)["items"]
    assert record["personal_data"] is True
    assert lineage(api, OTHER, 1)["datasets"][0]["personal_data"] is True


def test_personal_data_learned_later_marks_earlier_versions_too(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    push_using(api, OTHER, dataset(CLICKS, SHA_A, personal_data=True))
    assert lineage(api, NAME, 1)["datasets"][0]["personal_data"] is True


def test_dataset_name_and_size_fill_gaps_but_are_never_overwritten(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    push_using(api, NAME, dataset(CLICKS, SHA_A, name="clicks", size=10))
    push_using(api, NAME, dataset(CLICKS, SHA_A, name="renamed", size=99))
    (record,) = datasets(api)["items"]
    assert (record["name"], record["size"]) == ("clicks", 10)


def test_one_dataset_used_in_two_roles_by_one_version(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A, role="train"), dataset(CLICKS, SHA_A, role="test"))
    used = lineage(api, NAME, 1)["datasets"]
    assert [(d["uri"], d["role"]) for d in used] == [(CLICKS, "test"), (CLICKS, "train")]
    assert used[0]["id"] == used[1]["id"]
    assert usage(api, CLICKS) == [(NAME, 1, "test", False), (NAME, 1, "train", False)]


def test_one_dataset_listed_twice_in_one_role_is_recorded_once(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A), dataset(CLICKS, SHA_A))
    assert len(lineage(api, NAME, 1)["datasets"]) == 1


def test_dataset_name_learned_later_makes_earlier_versions_findable(api) -> None:
    """Version 1's lineage now names the dataset, so searching the name finds it too."""
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    push_using(api, OTHER, dataset(CLICKS, SHA_A, name="capybaraclicks"))
    assert lineage(api, NAME, 1)["datasets"][0]["name"] == "capybaraclicks"
    assert sorted(search(api, "versions", "capybaraclicks")) == [f"{OTHER}:1", f"{NAME}:1"]


# --- GET /datasets and /datasets/{id} ---------------------------------------------------


def test_list_datasets_pages_in_the_order_they_were_first_recorded(api) -> None:
    for i in range(5):
        push_using(api, NAME, dataset(f"s3://data/{i}"))
    first = datasets(api, limit=2)
    assert [d["uri"] for d in first["items"]] == ["s3://data/0", "s3://data/1"]
    second = datasets(api, limit=2, cursor=first["next_cursor"])
    assert [d["uri"] for d in second["items"]] == ["s3://data/2", "s3://data/3"]
    last = datasets(api, limit=2, cursor=second["next_cursor"])
    assert ([d["uri"] for d in last["items"]], last["next_cursor"]) == (["s3://data/4"], None)


def test_list_datasets_filters_by_uri_prefix_taken_literally(api) -> None:
    for uri in ("s3://data/a_b", "s3://data/axb", "s3://data/a%c", "gs://data/a_b"):
        push_using(api, NAME, dataset(uri))
    assert [d["uri"] for d in datasets(api, uri_prefix="s3://")["items"]] == [
        "s3://data/a_b",
        "s3://data/axb",
        "s3://data/a%c",
    ]
    assert [d["uri"] for d in datasets(api, uri_prefix="s3://data/a_")["items"]] == [
        "s3://data/a_b"
    ]
    assert [d["uri"] for d in datasets(api, uri_prefix="s3://data/a%")["items"]] == [
        "s3://data/a%c"
    ]
    assert datasets(api, uri_prefix="az://")["items"] == []


def test_list_datasets_filters_by_personal_data(api) -> None:
    push_using(api, NAME, dataset(CLICKS, personal_data=True), dataset(VIEWS))
    assert [d["uri"] for d in datasets(api, personal_data="true")["items"]] == [CLICKS]
    assert [d["uri"] for d in datasets(api, personal_data="false")["items"]] == [VIEWS]
    both = datasets(api, personal_data="true", uri_prefix="s3://data/v")
    assert both["items"] == []


def test_list_datasets_with_a_bad_cursor_or_limit_is_400_cursor_invalid(api) -> None:
    push_using(api, NAME, dataset(CLICKS))
    for cursor in ("garbage", encode_cursor("s3://x")):
        assert_problem(get(api, "/datasets", cursor=cursor), 400, "CURSOR_INVALID", cursor)
        response = get(api, "/datasets/usage", uri=CLICKS, cursor=cursor)
        assert_problem(response, 400, "CURSOR_INVALID", cursor)
    for limit in (0, 1001):
        assert_problem(get(api, "/datasets", limit=limit), 400, "CURSOR_INVALID", limit)


def test_dataset_queries_with_a_nul_character_are_400_invalid_input(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    cases = [
        ("/datasets", {"uri_prefix": "s3://\x00"}),
        ("/datasets/usage", {"uri": CLICKS + "\x00"}),
        ("/datasets/usage", {"uri": CLICKS, "digest": "sha256:\x00"}),
        ("/datasets/impact", {"uri": CLICKS + "\x00"}),
        ("/datasets/impact", {"uri": CLICKS, "digest": "sha256:\x00"}),
    ]
    for path, params in cases:
        assert_problem(get(api, path, **params), 400, "INVALID_INPUT", (path, params))


def test_get_dataset_by_id(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A, name="clicks", size=3, personal_data=True))
    listed = datasets(api)["items"][0]
    got = assert_json(get(api, f"/datasets/{listed['id']}"), 200)
    assert got == listed
    assert {k: v for k, v in got.items() if k != "id"} == {
        "uri": CLICKS,
        "digest": SHA_A,
        "name": "clicks",
        "size": 3,
        "personal_data": True,
    }


def test_unknown_dataset_id_is_404_dataset_not_found(api) -> None:
    assert_problem(get(api, "/datasets/12345"), 404, "DATASET_NOT_FOUND")
    for bad in ("0", "-1", "x", str(2**31)):
        assert_problem(get(api, f"/datasets/{bad}"), 422, "INVALID_INPUT", bad)


# --- /datasets/usage ----------------------------------------------------------------


def test_usage_lists_every_version_that_used_any_snapshot(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A, role="train"))
    push_using(api, OTHER, dataset(CLICKS, SHA_B, role="validation"), dataset(VIEWS))
    push_using(api, NAME, dataset(VIEWS))
    assert usage(api, CLICKS) == [(NAME, 1, "train", False), (OTHER, 1, "validation", False)]
    page = assert_json(get(api, "/datasets/usage", uri=CLICKS), 200)
    assert [u["digest"] for u in page["items"]] == [SHA_A, SHA_B]
    assert usage(api, VIEWS) == [(OTHER, 1, "other", False), (NAME, 2, "other", False)]


def test_usage_narrowed_to_one_digest(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    push_using(api, OTHER, dataset(CLICKS, SHA_B))
    assert usage(api, CLICKS, digest=SHA_B) == [(OTHER, 1, "other", False)]


def test_usage_leaves_out_deleted_versions_and_models_unless_asked(api) -> None:
    push_using(api, NAME, dataset(CLICKS))
    push_using(api, NAME, dataset(CLICKS), content=b"2")
    push_using(api, OTHER, dataset(CLICKS))
    api.delete(model_url(NAME, "versions", "1"))
    api.delete(model_url(OTHER))
    assert usage(api, CLICKS) == [(NAME, 2, "other", False)]
    assert usage(api, CLICKS, include_deleted="true") == [
        (NAME, 1, "other", True),
        (NAME, 2, "other", False),
        (OTHER, 1, "other", False),
    ]


def test_usage_pages(api) -> None:
    for i in range(3):
        push_using(
            api,
            NAME,
            dataset(CLICKS, role="train"),
            dataset(CLICKS, role="test"),
            content=str(i).encode(),
        )
    seen = []
    params: dict[str, Any] = {"uri": CLICKS, "limit": 2}
    while True:
        page = assert_json(get(api, "/datasets/usage", **params), 200)
        assert len(page["items"]) <= 2
        seen += [(u["number"], u["role"]) for u in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [(n, role) for n in (1, 2, 3) for role in ("test", "train")]


def test_usage_of_an_unknown_dataset_is_404_dataset_not_found(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    assert_problem(get(api, "/datasets/usage", uri=VIEWS), 404, "DATASET_NOT_FOUND")
    response = get(api, "/datasets/usage", uri=CLICKS, digest=SHA_B)
    assert_problem(response, 404, "DATASET_NOT_FOUND")


def test_usage_of_a_dataset_only_deleted_versions_used_is_an_empty_page(api) -> None:
    push_using(api, NAME, dataset(CLICKS))
    push_using(api, NAME, dataset(VIEWS))
    api.delete(model_url(NAME, "versions", "1"))
    assert usage(api, CLICKS) == []


def test_usage_with_a_malformed_uri_is_refused(api) -> None:
    assert_problem(get(api, "/datasets/usage", uri="a\x00b"), 400, "INVALID_INPUT")
    assert_problem(get(api, "/datasets/usage", uri="u" * 1001), 422, "INVALID_INPUT")
    assert_problem(get(api, "/datasets/usage"), 422, "INVALID_INPUT")


# --- /datasets/impact -----------------------------------------------------------------


def test_impact_lists_aliases_pointing_at_versions_that_used_the_dataset(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A, role="train"))
    push_using(api, NAME, dataset(VIEWS))
    push_using(api, OTHER, dataset(CLICKS, SHA_B, role="test"))
    set_alias(api, NAME, "prod", 1)
    set_alias(api, NAME, "canary", 1)
    set_alias(api, NAME, "shadow", 2)
    set_alias(api, OTHER, "prod", 1)
    assert impact(api, CLICKS) == [
        (OTHER, "prod", 1, "test"),
        (NAME, "canary", 1, "train"),
        (NAME, "prod", 1, "train"),
    ]
    assert impact(api, CLICKS, digest=SHA_A) == [
        (NAME, "canary", 1, "train"),
        (NAME, "prod", 1, "train"),
    ]
    found = assert_json(get(api, "/datasets/impact", uri=CLICKS, digest=SHA_B), 200)
    assert found == [
        {"model": OTHER, "alias": "prod", "number": 1, "role": "test", "digest": SHA_B}
    ]


def test_moving_an_alias_away_removes_it_from_the_impact(api) -> None:
    push_using(api, NAME, dataset(CLICKS))
    push_using(api, NAME, dataset(VIEWS))
    set_alias(api, NAME, "prod", 1)
    assert impact(api, CLICKS) == [(NAME, "prod", 1, "other")]
    set_alias(api, NAME, "prod", 2)
    assert impact(api, CLICKS) == []
    assert impact(api, VIEWS) == [(NAME, "prod", 2, "other")]
    api.delete(model_url(NAME, "aliases", "prod"))
    assert impact(api, VIEWS) == []


def test_impact_leaves_out_deleted_models(api) -> None:
    push_using(api, NAME, dataset(CLICKS))
    set_alias(api, NAME, "prod", 1)
    api.delete(model_url(NAME))
    assert impact(api, CLICKS) == []


def test_impact_of_an_unknown_dataset_is_404_dataset_not_found(api) -> None:
    push_using(api, NAME, dataset(CLICKS, SHA_A))
    assert_problem(get(api, "/datasets/impact", uri=VIEWS), 404, "DATASET_NOT_FOUND")
    response = get(api, "/datasets/impact", uri=CLICKS, digest=SHA_B)
    assert_problem(response, 404, "DATASET_NOT_FOUND")


# --- concurrency (over real HTTP) -----------------------------------------------------


def test_concurrent_first_uses_of_a_dataset_share_one_record(live, admin_token) -> None:
    models = [f"ads/m{i}" for i in range(8)]
    with httpx.Client(base_url=live.url, headers=bearer(admin_token)) as http:
        for name in models:
            response = http.put(f"{API}/blobs/{digest_of(name.encode())}", content=name.encode())
            assert response.status_code == 201, response.text

    def push_using_fresh(http: httpx.Client, name: str) -> httpx.Response:
        body = {
            "files": [entry("model.bin", name.encode())],
            "lineage": {"datasets": [dataset("s3://data/fresh", SHA_A, role="train")]},
        }
        return http.post(f"{API}/models/{name}/-/versions", json=body)

    responses = concurrently(live.url, admin_token, models, push_using_fresh)
    assert [r.status_code for r in responses] == [201] * len(models), [r.text for r in responses]
    page = httpx.get(f"{live.url}{API}/datasets", headers=bearer(admin_token)).json()
    assert [(d["uri"], d["digest"]) for d in page["items"]] == [("s3://data/fresh", SHA_A)]
    used = httpx.get(
        f"{live.url}{API}/datasets/usage",
        params={"uri": "s3://data/fresh"},
        headers=bearer(admin_token),
    )
    assert sorted(u["model"] for u in used.json()["items"]) == models
