"""``/api/v1/resolve``: every reference form, and how each bad reference fails."""

from __future__ import annotations

from tests.api.helpers import assert_json, assert_problem, create_model, model_url, push, resolve

NAME = "ads/rec"

REF_NAME = "team/sub/model"


def test_resolve_accepts_every_reference_form(api) -> None:
    v1 = push(api, REF_NAME, {"w": b"1"})
    push(api, REF_NAME, {"w": b"2"})
    api.put(model_url(REF_NAME, "aliases", "champion"), json={"version": 1})
    forms = {
        REF_NAME: 2,
        f"{REF_NAME}:1": 1,
        f"{REF_NAME}:2": 2,
        f"{REF_NAME}@champion": 1,
        f"{REF_NAME}@latest": 2,
        f"{REF_NAME}@{v1['digest']}": 1,
        f"models:/{REF_NAME}/1": 1,
        f"models:/{REF_NAME}/latest": 2,
        f"models:/{REF_NAME}@champion": 1,
    }
    resolved = {ref: assert_json(resolve(api, ref), 200)["number"] for ref in forms}
    assert resolved == forms


MALFORMED_REFS = [
    "",
    " a/m",
    "a/m ",
    "A/m",
    "a/m:0",
    "a/m:01",
    "a/m:x",
    "a/m:-1",
    "a/m:1:2",
    "a/m@",
    "a/m@Prod",
    "a/m@sha256:abc",
    "a//m",
    "models:a/m/1",
    "models:/a/m",
    "models:/a/m/x",
    "models:/a/m@",
]


def test_malformed_reference_is_400_reference_invalid(api) -> None:
    for ref in MALFORMED_REFS:
        assert_problem(resolve(api, ref), 400, "REFERENCE_INVALID", ref)


def test_resolve_without_ref_is_422_invalid_input(api) -> None:
    assert_problem(api.get("/api/v1/resolve"), 422, "INVALID_INPUT")


def test_resolve_unknown_alias_is_404_alias_not_found(api) -> None:
    push(api, NAME)
    assert_problem(resolve(api, f"{NAME}@nope"), 404, "ALIAS_NOT_FOUND")
    assert_problem(resolve(api, f"models:/{NAME}@nope"), 404, "ALIAS_NOT_FOUND")


def test_resolve_unknown_model_is_404_model_not_found(api) -> None:
    assert_problem(resolve(api, "ads/none"), 404, "MODEL_NOT_FOUND")


def test_resolve_unknown_number_or_digest_is_404_version_not_found(api) -> None:
    push(api, NAME)
    assert_problem(resolve(api, f"{NAME}:7"), 404, "VERSION_NOT_FOUND")
    assert_problem(resolve(api, f"{NAME}@sha256:{'0' * 64}"), 404, "VERSION_NOT_FOUND")


def test_resolve_model_without_live_versions_is_404_version_not_found(api) -> None:
    create_model(api, "ads/empty")
    assert_problem(resolve(api, "ads/empty"), 404, "VERSION_NOT_FOUND")
    push(api, NAME)
    api.delete(model_url(NAME, "versions", "1"))
    assert_problem(resolve(api, NAME), 404, "VERSION_NOT_FOUND")
    assert_problem(resolve(api, f"{NAME}@latest"), 404, "VERSION_NOT_FOUND")
