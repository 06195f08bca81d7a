"""Promotion requests over HTTP: opening, applying, racing, rollback, comments, checks,
and metrics added later. Policies' requirements are tested in test_requests_policy.py."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url, push

NAME = "credit/scorer"


def open_request(api: TestClient, version: int, alias: str = "production", **kw: Any) -> Any:
    body = {"version": version, "alias": alias, "reason": "better", **kw}
    return assert_json(api.post(model_url(NAME, "requests"), json=body), 201)


def alias_at(api: TestClient, alias: str = "production") -> int | None:
    response = api.get(model_url(NAME, "aliases", alias))
    return response.json()["version"] if response.status_code == 200 else None


def test_a_request_without_a_policy_is_approved_and_applies(api: TestClient) -> None:
    push(api, NAME)
    request = open_request(api, 1)
    assert (request["state"], request["passed"], request["base_version"]) == (
        "approved",
        True,
        None,
    )
    assert {r["key"] for r in request["requirements"]} == {"status", "base", "freeze"}
    applied = assert_json(api.post(f"{API}/requests/{request['id']}/apply"), 200)
    assert (applied["state"], applied["closed_by"]) == ("applied", "admin")
    assert alias_at(api) == 1
    history = assert_json(api.get(model_url(NAME, "aliases", "production", "history")), 200)
    assert [(h["to_version"], h["request"]) for h in history["items"]] == [(1, request["id"])]
    actions = [r["action"] for r in api.get(f"{API}/audit").json()["items"]]
    assert {"request.open", "request.approve", "request.apply", "alias.set"} <= set(actions)


def test_applying_one_supersedes_the_others_from_the_same_base(api: TestClient) -> None:
    for _ in range(3):
        push(api, NAME, {"model.bin": b"v" + bytes(alias_at(api) or 0)})
    push(api, NAME, {"model.bin": b"third"})
    first, second = open_request(api, 2), open_request(api, 3)
    assert_json(api.post(f"{API}/requests/{second['id']}/apply"), 200)
    first_now = assert_json(api.get(f"{API}/requests/{first['id']}"), 200)
    assert (first_now["state"], first_now["close_reason"]) == (
        "superseded",
        f"request {second['id']} was applied",
    )
    assert_problem(api.post(f"{API}/requests/{first['id']}/apply"), 409, "REQUEST_CLOSED")
    assert alias_at(api) == 3


def test_a_request_whose_base_moved_is_refused(api: TestClient, registry: Any) -> None:
    push(api, NAME)
    push(api, NAME, {"model.bin": b"two"})
    push(api, NAME, {"model.bin": b"three"})
    older = open_request(api, 1)
    assert_json(api.post(f"{API}/requests/{older['id']}/apply"), 200)
    stale = open_request(api, 2)  # base: 1
    newer = open_request(api, 3)  # base: 1 too, applied first
    assert_json(api.post(f"{API}/requests/{newer['id']}/apply"), 200)
    # The stale one was superseded (same base); one opened before the move but from
    # another base would be refused for its base.
    assert assert_json(api.get(f"{API}/requests/{stale['id']}"), 200)["state"] == "superseded"
    other = open_request(api, 2, alias="staging")
    assert_json(api.post(f"{API}/requests/{other['id']}/apply"), 200)
    moved = open_request(api, 1, alias="staging")
    third = open_request(api, 3, alias="staging")
    assert_json(api.post(f"{API}/requests/{third['id']}/apply"), 200)
    assert assert_json(api.get(f"{API}/requests/{moved['id']}"), 200)["state"] == "superseded"


def test_base_moved_is_refused_with_its_code(api: TestClient, registry: Any) -> None:
    from modeldepot.db.tables import promotion_requests

    push(api, NAME)
    push(api, NAME, {"model.bin": b"two"})
    request = open_request(api, 2)
    first = open_request(api, 1, alias="production")
    assert_json(api.post(f"{API}/requests/{first['id']}/apply"), 200)
    # ``request`` was superseded; reopen it by hand to see the base check itself.
    with registry.db.write() as conn:
        conn.execute(
            promotion_requests.update()
            .where(promotion_requests.c.id == request["id"])
            .values(state="open")
        )
    body = assert_problem(
        api.post(f"{API}/requests/{request['id']}/apply"), 409, "REQUEST_BASE_MOVED"
    )
    assert body["current"] == 1
    assert alias_at(api) == 1


def test_rollback_moves_back_to_the_previous_version(api: TestClient) -> None:
    for data in (b"one", b"two"):
        push(api, NAME, {"model.bin": data})
    for version in (1, 2):
        request = open_request(api, version)
        assert_json(api.post(f"{API}/requests/{request['id']}/apply"), 200)
    back = assert_json(
        api.post(model_url(NAME, "rollback"), json={"alias": "production", "reason": "bad"}),
        201,
    )
    assert (back["kind"], back["version"], back["base_version"]) == ("rollback", 1, 2)
    assert_json(api.post(f"{API}/requests/{back['id']}/apply"), 200)
    assert alias_at(api) == 1


def test_rollback_without_an_earlier_version_is_refused(api: TestClient) -> None:
    push(api, NAME)
    request = open_request(api, 1)
    assert_json(api.post(f"{API}/requests/{request['id']}/apply"), 200)
    response = api.post(model_url(NAME, "rollback"), json={"alias": "production"})
    assert_problem(response, 400, "INVALID_INPUT")


def test_cancel_and_comment(api: TestClient) -> None:
    push(api, NAME)
    request = open_request(api, 1)
    body = {"body": "looks good to me"}
    commented = assert_json(api.post(f"{API}/requests/{request['id']}/comments", json=body), 201)
    assert [c["body"] for c in commented["comments"]] == ["looks good to me"]
    cancelled = assert_json(
        api.post(f"{API}/requests/{request['id']}/cancel", json={"reason": "not now"}), 200
    )
    assert (cancelled["state"], cancelled["close_reason"]) == ("cancelled", "not now")
    assert_problem(api.post(f"{API}/requests/{request['id']}/apply"), 409, "REQUEST_CLOSED")
    assert alias_at(api) is None


def test_who_may_open_apply_and_see_requests(api: TestClient) -> None:
    push(api, NAME)
    reader = as_user(api, "rita", "reader", "credit")
    contributor = as_user(api, "carl", "contributor", "credit")
    outsider = as_user(api, "olga", "maintainer", "ads")
    body = {"version": 1, "alias": "production", "reason": ""}
    url = model_url(NAME, "requests")
    assert_problem(api.post(url, json=body, headers=reader), 403, "FORBIDDEN")
    assert_problem(api.post(url, json=body, headers=outsider), 404, "MODEL_NOT_FOUND")
    request = assert_json(api.post(url, json=body, headers=contributor), 201)
    assert request["requested_by"] == "carl"
    hidden = api.get(f"{API}/requests/{request['id']}", headers=outsider)
    assert_problem(hidden, 404, "REQUEST_NOT_FOUND")
    assert api.get(f"{API}/requests", headers=outsider).json()["items"] == []
    listed = assert_json(api.get(f"{API}/requests", headers=reader), 200)
    assert [r["id"] for r in listed["items"]] == [request["id"]]
    assert_problem(
        api.post(f"{API}/requests/{request['id']}/apply", headers=reader), 403, "FORBIDDEN"
    )
    assert_json(api.post(f"{API}/requests/{request['id']}/apply", headers=contributor), 200)


def test_a_revoked_version_cannot_be_promoted(api: TestClient, registry: Any) -> None:
    from modeldepot.db.tables import versions

    push(api, NAME)
    with registry.db.write() as conn:
        conn.execute(versions.update().values(status="revoked"))
    response = api.post(model_url(NAME, "requests"), json={"version": 1, "alias": "production"})
    assert_problem(response, 409, "VERSION_REVOKED")


def test_checks_are_bound_to_the_version_digest(api: TestClient) -> None:
    version = push(api, NAME)
    url = model_url(NAME, "versions", "1", "checks")
    wrong = {"name": "bias-audit", "state": "pass", "digest": "sha256:" + "0" * 64}
    assert_problem(api.post(url, json=wrong), 409, "CHECK_DIGEST_MISMATCH")
    for state in ("pending", "pass"):
        body = {**wrong, "state": state, "digest": version["digest"], "url": "https://ci/1"}
        assert_json(api.post(url, json=body), 201)
    checks = assert_json(api.get(url), 200)
    assert [(c["name"], c["state"], c["url"]) for c in checks] == [
        ("bias-audit", "pass", "https://ci/1")
    ]


def test_metrics_are_added_but_never_replaced(api: TestClient) -> None:
    push(api, NAME, metrics={"auc": 0.9})
    url = model_url(NAME, "versions", "1", "metrics")
    body = {"metrics": {"f1": 0.7}, "slices": [{"name": "fpr", "value": 0.1, "slice": "sex=f"}]}
    version = assert_json(api.post(url, json=body), 200)
    assert version["metrics"] == {"auc": 0.9, "f1": 0.7}
    again = assert_problem(api.post(url, json={"metrics": {"auc": 0.95}}), 409, "METRIC_EXISTS")
    assert again["metrics"] == [["auc", ""]]
    infinite = api.post(
        url, content=b'{"metrics": {"x": 1e400}}', headers={"Content-Type": "application/json"}
    )
    assert_problem(infinite, 400, "METADATA_INVALID")


def test_an_evaluation_is_kept_only_when_it_finds_something_new(
    api: TestClient, registry: Any
) -> None:
    import sqlalchemy as sa

    from modeldepot.db.tables import request_evaluations
    from modeldepot.security.context import Context

    def kept() -> list[bool]:
        with registry.db.read() as conn:
            query = sa.select(request_evaluations.c.passed).order_by(request_evaluations.c.id)
            return list(conn.execute(query).scalars())

    push(api, NAME)
    request = open_request(api, 1)
    assert kept() == [True]
    for _ in range(3):  # the server's sweep, every few minutes
        registry.request_followers.sweep(Context.system("sweeper"))
    assert kept() == [True]
    assert_json(api.post(model_url(NAME, "versions", "1", "revoke"), json={"reason": "leak"}), 200)
    assert kept() == [True, False]
    assert_json(api.post(model_url(NAME, "versions", "1", "reinstate"), json={"reason": "ok"}), 200)
    assert_json(api.post(f"{API}/requests/{request['id']}/apply"), 200)
    assert kept() == [True, False, True, True]  # the one the application was decided on
