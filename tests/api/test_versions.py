"""Versions over HTTP: commit, manifests, files, metadata, soft delete and restore."""

from __future__ import annotations

import json

import pytest

from modeldepot.manifest import Manifest, ManifestEntry
from modeldepot.registry.pagination import encode_cursor
from tests.api.helpers import (
    JSON,
    as_user,
    assert_json,
    assert_problem,
    commit,
    create_model,
    digest_of,
    entry,
    model_url,
    push,
    put_blob,
    resolve,
)

NAME = "ads/rec"


def version_numbers(api, name: str = NAME, **params) -> list[int]:
    page = assert_json(api.get(model_url(name, "versions"), params=params), 200)
    return [v["number"] for v in page["items"]]


def assert_nothing_committed(api, name: str = NAME) -> None:
    assert version_numbers(api, name, include_deleted="true") == []
    assert assert_json(api.get(model_url(name)), 200)["latest_version"] is None


# --- commit -------------------------------------------------------------------------


def test_commit_creates_the_model_implicitly(api) -> None:
    put_blob(api, b"weights")
    response = commit(api, NAME, [entry("model.bin", b"weights")], actor="alice")
    version = assert_json(response, 201)
    assert (version["model"], version["number"], version["created_by"]) == (NAME, 1, "alice")
    assert response.headers["location"] == f"/api/v1/models/{NAME}/-/versions/1"
    model = assert_json(api.get(model_url(NAME)), 200)
    assert (model["latest_version"], model["created_by"]) == (1, "alice")


def test_commits_are_numbered_1_2_3(api) -> None:
    numbers = [push(api, NAME, {"w.bin": f"v{i}".encode()})["number"] for i in range(3)]
    assert numbers == [1, 2, 3]
    assert version_numbers(api) == [3, 2, 1]


def test_version_digest_is_the_manifest_digest(api) -> None:
    files = [
        entry("z/weights.bin", b"weights"),
        entry("config.json", b"{}", media_type="application/json"),
        entry("a.txt", b"text"),
    ]
    for data in (b"weights", b"{}", b"text"):
        put_blob(api, data)
    version = assert_json(commit(api, NAME, files), 201)
    expected = Manifest.build(
        ManifestEntry(f["path"], f["size"], f["digest"], f.get("media_type")) for f in files
    )
    assert version["digest"] == expected.digest
    assert (version["total_size"], version["file_count"]) == (13, 3)


def test_same_files_in_another_order_give_the_same_digest(api) -> None:
    first = push(api, NAME, {"a.bin": b"a", "b.bin": b"b"})
    second = push(api, "other/model", {"b.bin": b"b", "a.bin": b"a"})
    assert first["digest"] == second["digest"]


def test_version_etag_is_the_quoted_digest_and_if_none_match_gives_304(api) -> None:
    put_blob(api, b"weights")
    created = commit(api, NAME, [entry("model.bin", b"weights")])
    etag = f'"{created.json()["digest"]}"'
    assert created.headers["etag"] == etag
    for url, params in [(model_url(NAME, "versions", "1"), {}), ("/api/v1/resolve", {"ref": NAME})]:
        fresh = api.get(url, params=params)
        assert (fresh.status_code, fresh.headers["etag"]) == (200, etag)
        assert fresh.headers["content-type"] == JSON
        cached = api.get(url, params=params, headers={"If-None-Match": f'"other", {etag}'})
        assert (cached.status_code, cached.headers["etag"], cached.content) == (304, etag, b"")
        stale = api.get(url, params=params, headers={"If-None-Match": '"sha256:stale"'})
        assert stale.status_code == 200


def test_manifest_lists_files_sorted_by_path(api) -> None:
    files = {"z.bin": b"z", "a/b/c.txt": b"c", "m.json": b"{}", "a/a.bin": b"a"}
    version = push(api, NAME, files)
    manifest = assert_json(api.get(model_url(NAME, "versions", "1", "manifest")), 200)
    assert (manifest["model"], manifest["number"], manifest["schema"]) == (NAME, 1, 1)
    assert manifest["digest"] == version["digest"]
    assert [f["path"] for f in manifest["files"]] == ["a/a.bin", "a/b/c.txt", "m.json", "z.bin"]
    assert manifest["files"][0] == {
        "path": "a/a.bin",
        "size": 1,
        "digest": digest_of(b"a"),
        "media_type": None,
    }


def test_file_download_serves_its_bytes_and_honours_range(api) -> None:
    data = b"0123456789"
    push(api, NAME, {"sub/dir/weights.bin": data})
    url = model_url(NAME, "versions", "1", "files", "sub/dir/weights.bin")
    whole = api.get(url)
    assert (whole.status_code, whole.content) == (200, data)
    assert whole.headers["etag"] == f'"{digest_of(data)}"'
    assert "weights.bin" in whole.headers["content-disposition"]
    part = api.get(url, headers={"Range": "bytes=2-5"})
    assert (part.status_code, part.content) == (206, b"2345")
    assert part.headers["content-range"] == "bytes 2-5/10"
    assert part.headers["content-length"] == "4"


def test_file_is_found_by_its_normalised_path(api) -> None:
    push(api, NAME, {"a/./b.txt": b"b"})
    response = api.get(model_url(NAME, "versions", "1", "files", "a/b.txt"))
    assert (response.status_code, response.content) == (200, b"b")


def test_unknown_file_is_404_file_not_found(api) -> None:
    push(api, NAME)
    response = api.get(model_url(NAME, "versions", "1", "files", "nope.bin"))
    assert_problem(response, 404, "FILE_NOT_FOUND")


def test_empty_file_list_is_400_manifest_invalid(api) -> None:
    create_model(api, NAME)
    assert_problem(commit(api, NAME, []), 400, "MANIFEST_INVALID")
    assert_nothing_committed(api)


def test_malformed_file_digest_is_400_manifest_invalid(api) -> None:
    create_model(api, NAME)
    digests = {
        "uppercase hex": "sha256:" + "A" * 64,
        "short": "sha256:" + "0" * 63,
        "other algorithm": "md5:" + "0" * 32,
        "no prefix": "0" * 64,
        "trailing newline": "sha256:" + "0" * 64 + "\n",
        "empty": "",
    }
    for case, digest in digests.items():
        files = [{"path": "a.bin", "size": 1, "digest": digest}]
        assert_problem(commit(api, NAME, files), 400, "MANIFEST_INVALID", case)
    assert_nothing_committed(api)


def test_negative_file_size_is_400_manifest_invalid(api) -> None:
    files = [{"path": "a.bin", "size": -1, "digest": digest_of(b"")}]
    assert_problem(commit(api, NAME, files), 400, "MANIFEST_INVALID")


def test_commit_of_a_never_uploaded_blob_is_404_blob_unknown_listing_it(api) -> None:
    put_blob(api, b"present")
    files = [entry("present.bin", b"present"), entry("absent.bin", b"absent")]
    body = assert_problem(commit(api, NAME, files), 404, "BLOB_UNKNOWN")
    assert body["missing"] == [digest_of(b"absent")]
    assert_problem(api.get(model_url(NAME)), 404, "MODEL_NOT_FOUND")


def test_declared_size_differing_from_the_blob_is_400_size_mismatch(api) -> None:
    create_model(api, NAME)
    put_blob(api, b"12345")
    files = [{"path": "a.bin", "size": 4, "digest": digest_of(b"12345")}]
    body = assert_problem(commit(api, NAME, files), 400, "SIZE_MISMATCH")
    assert body["path"] == "a.bin"
    assert_nothing_committed(api)


def test_one_digest_declared_with_two_sizes_is_400_size_mismatch(api) -> None:
    put_blob(api, b"12345")
    files = [entry("a.bin", b"12345"), {**entry("b.bin", b"12345"), "size": 6}]
    assert_problem(commit(api, NAME, files), 400, "SIZE_MISMATCH")


def test_oversized_metadata_is_413_metadata_too_large(api) -> None:
    create_model(api, NAME)
    put_blob(api, b"w")
    oversized = {
        "description": {"description": "d" * 10_001},
        "tag value": {"tags": {"k": "v" * 1_001}},
        "tag count": {"tags": {f"k{i}": "v" for i in range(201)}},
        "tag key": {"tags": {"k" * 129: "v"}},
        "param string": {"params": {"p": "v" * 5_001}},
    }
    for case, fields in oversized.items():
        response = commit(api, NAME, [entry("w", b"w")], **fields)
        assert_problem(response, 413, "METADATA_TOO_LARGE", case)
    assert_nothing_committed(api)


def test_metadata_at_its_limits_is_accepted(api) -> None:
    tags = {f"k{i}": "v" * 1_000 for i in range(200)}
    version = push(api, NAME, description="d" * 10_000, tags=tags)
    assert (len(version["description"]), len(version["tags"])) == (10_000, 200)


def test_non_finite_numbers_are_400_metadata_invalid(api) -> None:
    create_model(api, NAME)
    put_blob(api, b"w")
    files = json.dumps([entry("w", b"w")])
    for field in ("metrics", "params"):
        for value in ("NaN", "Infinity", "-Infinity"):
            response = api.post(
                model_url(NAME, "versions"),
                content=f'{{"files": {files}, "{field}": {{"m": {value}}}}}',
                headers={"content-type": "application/json"},
            )
            assert_problem(response, 400, "METADATA_INVALID", (field, value))
    assert_nothing_committed(api)


def test_metadata_of_the_wrong_type_is_422_invalid_input(api) -> None:
    put_blob(api, b"w")
    wrong = {
        "metric string": {"metrics": {"m": "high"}},
        "params as list": {"params": ["p"]},
        "tag number": {"tags": {"k": 1}},
    }
    for case, fields in wrong.items():
        response = commit(api, NAME, [entry("w", b"w")], **fields)
        body = assert_problem(response, 422, "INVALID_INPUT", case)
        assert body["errors"][0]["loc"][:2] == ["body", next(iter(fields))]
    assert_problem(api.get(model_url(NAME)), 404, "MODEL_NOT_FOUND")


def test_nested_params_are_kept_as_written(api) -> None:
    put_blob(api, b"n")
    params = {"optimizer": {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]}, "seed": 7}
    response = commit(api, NAME, [entry("n", b"n")], params=params)
    assert response.status_code == 201, response.text
    assert response.json()["params"] == params
    assert api.get(model_url(NAME, "versions", "1")).json()["params"] == params


def test_params_that_are_null_too_deep_or_too_many_are_refused(api) -> None:
    put_blob(api, b"n")
    deep: dict = {"leaf": 1}
    for _ in range(10):
        deep = {"d": deep}
    cases = {
        "null": ({"p": None}, 400, "METADATA_INVALID"),
        "null inside": ({"p": {"q": None}}, 400, "METADATA_INVALID"),
        "too deep": ({"p": deep}, 413, "METADATA_TOO_LARGE"),
        "too many leaves": ({"p": list(range(10_001))}, 413, "METADATA_TOO_LARGE"),
    }
    for case, (params, status, code) in cases.items():
        response = commit(api, NAME, [entry("n", b"n")], params=params)
        assert_problem(response, status, code, case)
    assert_problem(api.get(model_url(NAME)), 404, "MODEL_NOT_FOUND")


def test_params_and_metrics_keep_their_types(api) -> None:
    params = {"lr": 0.01, "layers": 3, "opt": "adam", "bn": True}
    version = push(api, NAME, params=params, metrics={"auc": 0.91, "n": 3})
    read = assert_json(api.get(model_url(NAME, "versions", "1")), 200)
    for got in (version, read):
        assert got["params"] == params
        assert type(got["params"]["layers"]) is int and type(got["params"]["bn"]) is bool
        assert got["metrics"] == {"auc": 0.91, "n": 3.0}


def test_repeated_push_id_returns_the_same_version_with_200(api) -> None:
    put_blob(api, b"w")
    first = commit(api, NAME, [entry("w", b"w")], push_id="push-1")
    again = commit(api, NAME, [entry("w", b"w")], push_id="push-1")
    assert first.status_code == 201
    assert assert_json(again, 200) == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert version_numbers(api) == [1]
    assert commit(api, NAME, [entry("w", b"w")], push_id="push-2").json()["number"] == 2


def test_push_id_is_scoped_to_its_model(api) -> None:
    put_blob(api, b"w")
    assert commit(api, "a/one", [entry("w", b"w")], push_id="p").status_code == 201
    assert commit(api, "a/two", [entry("w", b"w")], push_id="p").status_code == 201


# --- delete, restore, tags ---------------------------------------------------------


def test_deleted_version_is_404_version_deleted_and_skipped_by_latest(api) -> None:
    push(api, NAME, {"w": b"1"})
    push(api, NAME, {"w": b"2"})
    deleted = assert_json(
        api.delete(model_url(NAME, "versions", "2"), headers=as_user(api, "bob")), 200
    )
    assert (deleted["deleted_by"], deleted["deleted_at"] is not None) == ("bob", True)
    assert_problem(resolve(api, f"{NAME}:2"), 404, "VERSION_DELETED")
    assert_problem(api.get(model_url(NAME, "versions", "2")), 404, "VERSION_DELETED")
    assert assert_json(resolve(api, NAME), 200)["number"] == 1
    assert assert_json(api.get(model_url(NAME)), 200)["latest_version"] == 1
    assert version_numbers(api) == [1]


def test_include_deleted_shows_a_deleted_version(api) -> None:
    push(api, NAME, {"w": b"1"})
    push(api, NAME, {"w": b"2"})
    api.delete(model_url(NAME, "versions", "2"))
    shown = resolve(api, f"{NAME}:2", include_deleted="true")
    assert assert_json(shown, 200)["deleted_at"] is not None
    shown = api.get(model_url(NAME, "versions", "2"), params={"include_deleted": "true"})
    assert assert_json(shown, 200)["number"] == 2
    manifest = api.get(model_url(NAME, "versions", "2", "manifest"), params={"include_deleted": 1})
    assert assert_json(manifest, 200)["number"] == 2
    assert version_numbers(api, include_deleted="true") == [2, 1]


def test_restore_makes_a_deleted_version_latest_again(api) -> None:
    push(api, NAME, {"w": b"1"})
    push(api, NAME, {"w": b"2"})
    api.delete(model_url(NAME, "versions", "2"))
    restored = assert_json(api.post(model_url(NAME, "versions", "2", "restore")), 200)
    assert (restored["deleted_at"], restored["deleted_by"]) == (None, None)
    assert assert_json(resolve(api, NAME), 200)["number"] == 2


def test_deleting_a_version_an_alias_points_at_is_409_version_has_aliases(api) -> None:
    push(api, NAME)
    for alias in ("prod", "canary"):
        api.put(model_url(NAME, "aliases", alias), json={"version": 1})
    body = assert_problem(api.delete(model_url(NAME, "versions", "1")), 409, "VERSION_HAS_ALIASES")
    assert body["aliases"] == ["canary", "prod"]
    assert assert_json(resolve(api, f"{NAME}:1"), 200)["deleted_at"] is None


def test_version_tags_put_and_delete(api) -> None:
    push(api, NAME, tags={"keep": "1"})
    url = model_url(NAME, "versions", "1", "tags", "stage")
    tagged = assert_json(api.put(url, json={"value": "prod"}, headers=as_user(api, "tagger")), 200)
    assert tagged["tags"] == {"keep": "1", "stage": "prod"}
    assert tagged["updated_by"] == "tagger"
    assert assert_json(api.put(url, json={"value": "dev"}), 200)["tags"]["stage"] == "dev"
    assert assert_json(api.delete(url), 200)["tags"] == {"keep": "1"}
    assert_problem(api.delete(url), 404, "TAG_NOT_FOUND")


def test_version_tag_whose_key_has_a_slash_can_be_changed_and_deleted(api) -> None:
    push(api, NAME, tags={"team/owner": "a"})
    url = model_url(NAME, "versions", "1", "tags", "team/owner")
    assert assert_json(api.put(url, json={"value": "b"}), 200)["tags"] == {"team/owner": "b"}
    assert assert_json(api.delete(url), 200)["tags"] == {}


def test_version_tag_value_too_long_is_413_metadata_too_large(api) -> None:
    push(api, NAME)
    url = model_url(NAME, "versions", "1", "tags", "k")
    assert_problem(api.put(url, json={"value": "v" * 1_001}), 413, "METADATA_TOO_LARGE")


def test_unknown_version_is_404_version_not_found_everywhere(api) -> None:
    push(api, NAME)
    for method, sub in [
        ("GET", ()),
        ("DELETE", ()),
        ("POST", ("restore",)),
        ("GET", ("manifest",)),
        ("GET", ("files", "model.bin")),
        ("HEAD", ("files", "model.bin")),
        ("PUT", ("tags", "k")),
        ("DELETE", ("tags", "k")),
    ]:
        response = api.request(method, model_url(NAME, "versions", "9", *sub), json={"value": "v"})
        if method == "HEAD":
            assert response.status_code == 404
        else:
            assert_problem(response, 404, "VERSION_NOT_FOUND", (method, sub))


def test_non_integer_version_in_url_is_422_invalid_input(api) -> None:
    push(api, NAME)
    for number in ("abc", "1.5", "1e3", "0x1"):
        for sub in [(), ("manifest",), ("files", "model.bin")]:
            response = api.get(model_url(NAME, "versions", number, *sub))
            assert_problem(response, 422, "INVALID_INPUT", (number, sub))


def test_version_number_beyond_the_column_range_is_422_invalid_input(api) -> None:
    push(api, NAME)
    for number in (2**31, 10**20):
        response = api.get(model_url(NAME, "versions", str(number)))
        assert_problem(response, 422, "INVALID_INPUT", number)


def test_list_versions_pages_newest_first(api) -> None:
    for i in range(5):
        push(api, NAME, {"w": str(i).encode()})
    first = assert_json(api.get(model_url(NAME, "versions"), params={"limit": 2}), 200)
    assert [v["number"] for v in first["items"]] == [5, 4]
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = assert_json(api.get(model_url(NAME, "versions"), params=params), 200)
    assert [v["number"] for v in second["items"]] == [3, 2]
    params["cursor"] = second["next_cursor"]
    last = assert_json(api.get(model_url(NAME, "versions"), params=params), 200)
    assert ([v["number"] for v in last["items"]], last["next_cursor"]) == ([1], None)


def test_list_versions_with_a_models_cursor_is_400_cursor_invalid(api) -> None:
    push(api, NAME)
    params = {"cursor": encode_cursor("ads/rec")}
    assert_problem(api.get(model_url(NAME, "versions"), params=params), 400, "CURSOR_INVALID")


def test_cursor_with_a_number_beyond_the_column_range_is_400_cursor_invalid(api) -> None:
    push(api, NAME)
    for number in (2**31, 10**20):
        params = {"cursor": encode_cursor(number)}
        response = api.get(model_url(NAME, "versions"), params=params)
        assert_problem(response, 400, "CURSOR_INVALID", number)


@pytest.mark.parametrize("field", ["description", "tag"])
def test_nul_byte_in_version_text_is_400_metadata_invalid(api, field: str) -> None:
    put_blob(api, b"w")
    fields = {"description": "a\x00b"} if field == "description" else {"tags": {"k": "a\x00b"}}
    response = commit(api, NAME, [entry("w", b"w")], **fields)
    assert_problem(response, 400, "METADATA_INVALID")
