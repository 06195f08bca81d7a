"""Relations between versions added after commit: both ends, no cycles, removal,
and concurrent additions over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import (
    API,
    assert_json,
    assert_problem,
    digest_of,
    entry,
    model_url,
)
from tests.api.lineage_helpers import (
    add_relation,
    bearer,
    concurrently,
    lineage,
    push_version,
    refs_of,
    remove_relation,
)

# --- relations added later ------------------------------------------------------------


@pytest.fixture
def chain(api) -> None:
    """``ads/a:1``, ``ads/b:1`` and ``ads/c:1`` with no relations."""
    for name in ("ads/a", "ads/b", "ads/c"):
        push_version(api, name, name.encode())


@pytest.mark.usefixtures("chain")
def test_relation_added_later_shows_on_both_ends(api) -> None:
    body = assert_json(add_relation(api, "ads/a", 1, "derived_from", "ads/b:1"), 200)
    assert (body["model"], body["number"]) == ("ads/a", 1)
    assert refs_of(body["derived_from"]) == ["ads/b:1"]
    assert body["derived_from"][0]["kind"] == "derived_from"
    assert lineage(api, "ads/a", 1) == body
    assert lineage(api, "ads/b", 1)["used_by"] == [
        {"kind": "derived_from", "model": "ads/a", "number": 1, "deleted": False}
    ]


@pytest.mark.usefixtures("chain")
def test_adding_a_relation_twice_keeps_one(api) -> None:
    first = assert_json(add_relation(api, "ads/a", 1, "depends_on", "ads/b:1"), 200)
    again = assert_json(add_relation(api, "ads/a", 1, "depends_on", "ads/b@latest"), 200)
    assert first == again
    assert refs_of(again["depends_on"]) == ["ads/b:1"]


@pytest.mark.usefixtures("chain")
def test_one_target_may_be_both_derived_from_and_depended_on(api) -> None:
    add_relation(api, "ads/a", 1, "derived_from", "ads/b:1")
    body = assert_json(add_relation(api, "ads/a", 1, "depends_on", "ads/b:1"), 200)
    assert (refs_of(body["derived_from"]), refs_of(body["depends_on"])) == (
        ["ads/b:1"],
        ["ads/b:1"],
    )


@pytest.mark.usefixtures("chain")
def test_relation_to_oneself_is_409_relation_cycle(api) -> None:
    for kind in ("derived_from", "depends_on"):
        for target in ("ads/a:1", "ads/a", "ads/a@latest"):
            response = add_relation(api, "ads/a", 1, kind, target)
            assert_problem(response, 409, "RELATION_CYCLE", (kind, target))
    assert lineage(api, "ads/a", 1)["derived_from"] == []


@pytest.mark.usefixtures("chain")
def test_relation_back_to_a_descendant_is_409_relation_cycle(api) -> None:
    assert add_relation(api, "ads/a", 1, "derived_from", "ads/b:1").status_code == 200
    assert_problem(add_relation(api, "ads/b", 1, "derived_from", "ads/a:1"), 409, "RELATION_CYCLE")
    assert lineage(api, "ads/b", 1)["derived_from"] == []


@pytest.mark.usefixtures("chain")
def test_relation_closing_a_three_cycle_is_409_relation_cycle(api) -> None:
    add_relation(api, "ads/a", 1, "derived_from", "ads/b:1")
    add_relation(api, "ads/b", 1, "derived_from", "ads/c:1")
    assert_problem(add_relation(api, "ads/c", 1, "derived_from", "ads/a:1"), 409, "RELATION_CYCLE")
    # The shortcut a → c goes the same way as the chain: no cycle.
    assert add_relation(api, "ads/a", 1, "depends_on", "ads/c:1").status_code == 200


@pytest.mark.usefixtures("chain")
def test_cycle_across_relation_kinds_is_409_relation_cycle(api) -> None:
    add_relation(api, "ads/a", 1, "depends_on", "ads/b:1")
    add_relation(api, "ads/b", 1, "derived_from", "ads/c:1")
    for kind in ("derived_from", "depends_on"):
        response = add_relation(api, "ads/c", 1, kind, "ads/a:1")
        assert_problem(response, 409, "RELATION_CYCLE", kind)


@pytest.mark.usefixtures("chain")
def test_relation_added_later_to_a_missing_target_is_404_relation_target_not_found(api) -> None:
    push_version(api, "ads/b", b"2")
    api.delete(model_url("ads/b", "versions", "2"))
    for target in ("ads/b:9", "ads/b@prod", "ads/none:1", "ads/b:2"):
        response = add_relation(api, "ads/a", 1, "derived_from", target)
        assert_problem(response, 404, "RELATION_TARGET_NOT_FOUND", target)
    assert_problem(
        add_relation(api, "ads/a", 1, "derived_from", "ads/b:x"), 400, "REFERENCE_INVALID"
    )


@pytest.mark.usefixtures("chain")
def test_relation_on_a_missing_version_is_404(api) -> None:
    assert_problem(
        add_relation(api, "ads/a", 9, "derived_from", "ads/b:1"), 404, "VERSION_NOT_FOUND"
    )
    push_version(api, "ads/a", b"2")
    api.delete(model_url("ads/a", "versions", "2"))
    response = add_relation(api, "ads/a", 2, "derived_from", "ads/b:1")
    assert_problem(response, 404, "VERSION_DELETED")


@pytest.mark.usefixtures("chain")
def test_relation_of_an_unknown_kind_is_422_invalid_input(api) -> None:
    response = add_relation(api, "ads/a", 1, "copied_from", "ads/b:1")
    assert_problem(response, 422, "INVALID_INPUT")
    assert_problem(remove_relation(api, "ads/a", 1, "copied_from", "ads/b:1"), 422, "INVALID_INPUT")


@pytest.mark.usefixtures("chain")
def test_delete_relation_removes_it_and_a_second_delete_is_404_relation_not_found(api) -> None:
    add_relation(api, "ads/a", 1, "derived_from", "ads/b:1")
    add_relation(api, "ads/a", 1, "depends_on", "ads/b:1")
    body = assert_json(remove_relation(api, "ads/a", 1, "derived_from", "ads/b:1"), 200)
    assert (body["derived_from"], refs_of(body["depends_on"])) == ([], ["ads/b:1"])
    assert lineage(api, "ads/b", 1)["used_by"][0]["kind"] == "depends_on"
    response = remove_relation(api, "ads/a", 1, "derived_from", "ads/b:1")
    assert_problem(response, 404, "RELATION_NOT_FOUND")


@pytest.mark.usefixtures("chain")
def test_delete_relation_never_recorded_is_404_relation_not_found(api) -> None:
    add_relation(api, "ads/a", 1, "derived_from", "ads/b:1")
    for kind, target in [("derived_from", "ads/c:1"), ("depends_on", "ads/b:1")]:
        response = remove_relation(api, "ads/a", 1, kind, target)
        assert_problem(response, 404, "RELATION_NOT_FOUND", (kind, target))


@pytest.mark.usefixtures("chain")
def test_relation_to_a_version_deleted_since_can_be_removed(api) -> None:
    push_version(api, "ads/b", b"2")
    add_relation(api, "ads/a", 1, "derived_from", "ads/b:2")
    api.delete(model_url("ads/b", "versions", "2"))
    body = assert_json(remove_relation(api, "ads/a", 1, "derived_from", "ads/b:2"), 200)
    assert body["derived_from"] == []


@pytest.mark.usefixtures("chain")
def test_removed_relation_no_longer_blocks_the_reverse_one(api) -> None:
    add_relation(api, "ads/a", 1, "derived_from", "ads/b:1")
    remove_relation(api, "ads/a", 1, "derived_from", "ads/b:1")
    assert add_relation(api, "ads/b", 1, "derived_from", "ads/a:1").status_code == 200


# --- concurrency (over real HTTP) -----------------------------------------------------

PAIRS = 8


@pytest.fixture
def pairs(live, admin_token) -> list[tuple[str, str]]:
    """``PAIRS`` pairs of models ``p<i>/a`` and ``p<i>/b``, each with version 1."""
    made = [(f"p{i}/a", f"p{i}/b") for i in range(PAIRS)]
    with httpx.Client(base_url=live.url, headers=bearer(admin_token)) as http:
        assert http.put(f"{API}/blobs/{digest_of(b'w')}", content=b"w").status_code == 201
        for pair in made:
            for name in pair:
                body = {"files": [entry("model.bin", b"w")]}
                response = http.post(f"{API}/models/{name}/-/versions", json=body)
                assert response.status_code == 201, response.text
    return made


def relate_over_http(http: httpx.Client, job: tuple[str, str]) -> httpx.Response:
    source, target = job
    body = {"kind": "derived_from", "target": f"{target}:1"}
    return http.post(f"{API}/models/{source}/-/versions/1/relations", json=body)


def test_concurrent_opposite_relations_never_make_a_cycle(live, pairs, admin_token) -> None:
    jobs = [job for a, b in pairs for job in ((a, b), (b, a))]
    responses = concurrently(live.url, admin_token, jobs, relate_over_http)
    for (a, b), forward, backward in zip(pairs, responses[::2], responses[1::2], strict=True):
        statuses = sorted([forward.status_code, backward.status_code])
        assert statuses == [200, 409], (a, b, forward.text, backward.text)
        refused = forward if forward.status_code == 409 else backward
        assert refused.json()["code"] == "RELATION_CYCLE"
        with httpx.Client(base_url=live.url, headers=bearer(admin_token)) as http:
            ups = [
                http.get(f"{API}/models/{name}/-/versions/1/lineage").json()["derived_from"]
                for name in (a, b)
            ]
        assert sorted(len(up) for up in ups) == [0, 1], (a, b, ups)


def test_concurrent_identical_relations_record_one(live, pairs, admin_token) -> None:
    a, b = pairs[0]
    responses = concurrently(live.url, admin_token, [(a, b)] * 8, relate_over_http)
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    found = httpx.get(
        f"{live.url}{API}/models/{a}/-/versions/1/lineage", headers=bearer(admin_token)
    ).json()
    assert refs_of(found["derived_from"]) == [f"{b}:1"]
