"""Revoking by dataset opens the rollback requests the protected aliases need, and a
revoked version can no longer be promoted (over HTTP, on SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import API, assert_json, assert_problem, model_url, push

NAME = "credit/scorer"
DATASET = "s3://credit/bad.parquet"


def promote(api: TestClient, version: int, alias: str = "production") -> None:
    body = {"version": version, "alias": alias}
    request = assert_json(api.post(model_url(NAME, "requests"), json=body), 201)
    assert_json(api.post(f"{API}/requests/{request['id']}/apply"), 200)


def test_revoking_a_dataset_opens_rollbacks_of_the_aliases_on_it(api: TestClient) -> None:
    push(api, NAME, {"model.bin": b"clean"})
    lineage = {"datasets": [{"uri": DATASET, "role": "train", "personal_data": True}]}
    push(api, NAME, {"model.bin": b"tainted"}, lineage=lineage)
    promote(api, 1)
    promote(api, 2)
    promote(api, 2, "staging")
    body = {"dataset": DATASET, "reason": "unconsented personal data", "apply": True}
    plan = assert_json(api.post(f"{API}/datasets/-/revoke", json=body), 200)
    by_alias = {a["alias"]: a for a in plan["aliases"]}
    assert (by_alias["production"]["target"], by_alias["staging"]["target"]) == (1, None)
    request_id = by_alias["production"]["request"]
    assert by_alias["staging"]["request"] is None and by_alias["staging"]["note"]
    rollback = assert_json(api.get(f"{API}/requests/{request_id}"), 200)
    assert (rollback["kind"], rollback["version"], rollback["base_version"]) == ("rollback", 1, 2)
    assert rollback["reason"] == "unconsented personal data"
    assert_json(api.post(f"{API}/requests/{request_id}/apply"), 200)
    assert api.get(model_url(NAME, "aliases", "production")).json()["version"] == 1
    again = api.post(model_url(NAME, "requests"), json={"version": 2, "alias": "production"})
    assert_problem(again, 409, "VERSION_REVOKED")


def test_a_request_open_on_a_version_revoked_meanwhile_fails(api: TestClient) -> None:
    push(api, NAME)
    request = assert_json(
        api.post(model_url(NAME, "requests"), json={"version": 1, "alias": "production"}), 201
    )
    revoke = {"reason": "found a leak"}
    assert_json(api.post(model_url(NAME, "versions", "1", "revoke"), json=revoke), 200)
    shown = assert_json(api.get(f"{API}/requests/{request['id']}"), 200)
    assert (shown["state"], shown["passed"]) == ("open", False)
    assert {r["key"]: r["state"] for r in shown["requirements"]}["status"] == "fail"
    refused = api.post(f"{API}/requests/{request['id']}/apply")
    assert_problem(refused, 409, "REQUEST_NOT_READY")
