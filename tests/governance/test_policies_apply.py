"""Applying policies: checked, versioned only when changed, audited, admins only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import API, as_user, assert_json, assert_problem
from tests.governance.helpers import FULL, apply, source


def test_a_full_policy_applies_as_version_one_with_its_normalised_spec(api: TestClient) -> None:
    body = assert_json(apply(api, FULL), 201)
    assert (body["name"], body["version"], body["alias"]) == ("credit-production", 1, "production")
    assert (body["prefix"], body["risk_levels"], body["removed"]) == ("credit", ["high"], False)
    assert body["source"] == FULL
    spec = body["spec"]
    assert spec["approvals"] == [{"group": "ml-leads", "count": 1}, {"group": "risk", "count": 1}]
    assert spec["windows"] == {"deny_days": ["sat", "sun"], "deny_hours": [18, 8]}
    # The rollback block is the rollback's requirements, whole: what it leaves out is
    # at its default, not the promotion's.
    rollback = spec["rollback"]
    assert rollback["approvals"] == [{"group": "ml-leads", "count": 1}]
    assert (rollback["prior_stage"], rollback["soak_hours"], rollback["rules"]) == (None, 0, [])
    assert rollback["windows"] == {"deny_days": [], "deny_hours": None}
    assert rollback["approval_expiry_days"] is None


def test_applying_the_same_policy_again_changes_nothing(api: TestClient) -> None:
    first = assert_json(apply(api, FULL), 201)
    # Another way of writing the same policy is the same policy.
    again = assert_json(apply(api, FULL.replace("prefix: credit/", "prefix: /credit")), 200)
    assert again == first
    assert again["version"] == 1 and again["created_at"] == first["created_at"]
    history = assert_json(api.get(f"{API}/policies/credit-production/versions"), 200)
    assert [v["version"] for v in history] == [1]


def test_a_change_makes_a_new_version_and_the_diff_shows_it(api: TestClient) -> None:
    assert_json(apply(api, FULL), 201)
    changed = FULL.replace("soak_hours: 24", "soak_hours: 48")
    assert assert_json(apply(api, changed), 201)["version"] == 2
    current = assert_json(api.get(f"{API}/policies/credit-production"), 200)
    assert (current["version"], current["spec"]["soak_hours"]) == (2, 48)
    old = assert_json(api.get(f"{API}/policies/credit-production/versions/1"), 200)
    assert old["spec"]["soak_hours"] == 24
    diff = assert_json(
        api.get(f"{API}/policies/credit-production/diff", params={"from": 1, "to": 2}), 200
    )
    assert diff["diff"].startswith("--- credit-production@1\n+++ credit-production@2\n")
    assert "-soak_hours: 24\n+soak_hours: 48\n" in diff["diff"]


def test_applying_and_removing_are_audited_with_the_versions(api: TestClient) -> None:
    assert_json(apply(api, source("audited", soak_hours=1)), 201)
    assert_json(apply(api, source("audited", soak_hours=2)), 201)
    assert_json(api.delete(f"{API}/policies/audited"), 200)
    records = assert_json(api.get(f"{API}/audit", params={"action": "policy.*"}), 200)["items"]
    seen = [(r["action"], r["target"], r["before"], r["after"]) for r in reversed(records)]
    assert [(a, t) for a, t, _, _ in seen] == [
        ("policy.apply", "audited"),
        ("policy.apply", "audited"),
        ("policy.remove", "audited"),
    ]
    assert seen[0][2] is None and seen[0][3]["version"] == 1
    assert (seen[1][2]["version"], seen[1][3]["version"]) == (1, 2)
    assert (seen[2][2]["version"], seen[2][3]["version"], seen[2][3]["removed"]) == (2, 3, True)


def test_a_removed_policy_is_out_of_force_but_keeps_its_history(api: TestClient) -> None:
    assert_json(apply(api, source("gone")), 201)
    removal = assert_json(api.delete(f"{API}/policies/gone"), 200)
    assert (removal["version"], removal["removed"], removal["source"]) == (2, True, "")
    assert_problem(api.get(f"{API}/policies/gone"), 404, "POLICY_NOT_FOUND")
    assert_problem(api.delete(f"{API}/policies/gone"), 404, "POLICY_NOT_FOUND")
    listed = assert_json(api.get(f"{API}/policies"), 200)["items"]
    assert "gone" not in [p["name"] for p in listed]
    history = assert_json(api.get(f"{API}/policies/gone/versions"), 200)
    assert [(v["version"], v["removed"]) for v in history] == [(1, False), (2, True)]
    # Applying it again brings it back as a new version.
    assert assert_json(apply(api, source("gone")), 201)["version"] == 3


def test_list_shows_the_policies_in_force_by_name(api: TestClient) -> None:
    for name in ("zeta", "alpha"):
        assert_json(apply(api, source(name)), 201)
    listed = assert_json(api.get(f"{API}/policies"), 200)
    assert [p["name"] for p in listed["items"]] == ["alpha", "zeta"]
    first = assert_json(api.get(f"{API}/policies", params={"limit": 1}), 200)
    assert [p["name"] for p in first["items"]] == ["alpha"]
    rest = api.get(f"{API}/policies", params={"limit": 1, "cursor": first["next_cursor"]})
    assert [p["name"] for p in assert_json(rest, 200)["items"]] == ["zeta"]
    assert rest.json()["next_cursor"] is None


def test_unknown_policies_and_versions_are_not_found(api: TestClient) -> None:
    assert_problem(api.get(f"{API}/policies/nope"), 404, "POLICY_NOT_FOUND")
    assert_problem(api.get(f"{API}/policies/nope/versions"), 404, "POLICY_NOT_FOUND")
    assert_json(apply(api, source("here")), 201)
    assert_problem(api.get(f"{API}/policies/here/versions/2"), 404, "POLICY_NOT_FOUND")
    diff = api.get(f"{API}/policies/here/diff", params={"from": 1, "to": 5})
    assert_problem(diff, 404, "POLICY_NOT_FOUND")
    # A name no policy could have is not found without reaching the database.
    for path in ("/policies/Bad%00Name", "/policies/%20/versions", "/policies/UP/versions/1"):
        assert_problem(api.get(f"{API}{path}"), 404, "POLICY_NOT_FOUND", path)
    assert_problem(api.delete(f"{API}/policies/no%00pe"), 404, "POLICY_NOT_FOUND")


def test_an_invalid_expression_is_refused_with_its_field_and_position(api: TestClient) -> None:
    rules = [
        {"name": "ok", "expression": "version.number > 0"},
        {"name": "ok2", "expression": "true"},
        {"name": "bad", "expression": 'version.metrics["auc"] >=* 0.8'},
    ]
    body = assert_problem(apply(api, source("p", rules=rules)), 400, "POLICY_INVALID")
    assert (body["field"], body["line"], body["column"]) == ("rules[2].expression", 1, 26)


def test_a_too_complex_expression_is_refused(api: TestClient) -> None:
    deep = "(" * 20 + "true" + ")" * 20
    rollback = {"rules": [{"name": "deep", "expression": deep}]}
    body = assert_problem(apply(api, source("p", rollback=rollback)), 400, "EXPRESSION_TOO_COMPLEX")
    assert (body["limit"], body["field"]) == ("nesting", "rollback.rules[0].expression")


def test_unknown_keys_are_refused_where_they_are(api: TestClient) -> None:
    body = assert_problem(apply(api, source("p", aproval=[])), 400, "POLICY_INVALID")
    assert body["field"] == "aproval"
    body = assert_problem(
        apply(api, source("p", approvals=[{"group": "g", "cnt": 2}])), 400, "POLICY_INVALID"
    )
    assert body["field"] == "approvals[0].cnt"
    body = assert_problem(
        apply(api, source("p", windows={"deny_weeks": [1]})), 400, "POLICY_INVALID"
    )
    assert body["field"] == "windows.deny_weeks"


def test_wrong_types_and_values_are_refused(api: TestClient) -> None:
    cases = {
        "approvals[0].count": source("p", approvals=[{"group": "g", "count": 0}]),
        "approvals[1].group": source("p", approvals=["g", "g"]),
        "risk[0]": source("p", risk=["severe"]),
        "soak_hours": source("p", soak_hours="a day"),
        "request_expiry_days": source("p", request_expiry_days=0),
        "rollback.approval_expiry_days": source("p", rollback={"approval_expiry_days": -1}),
        "windows.deny_days[0]": source("p", windows={"deny_days": ["someday"]}),
        "windows.deny_hours": source("p", windows={"deny_hours": [9, 9]}),
        "waiver_role": source("p", waiver_role="king"),
        "auto_apply": source("p", auto_apply="yes please"),
        "alias": source("p", alias="Not An Alias"),
        "name": "alias: production\n",
        "prefix": source("p", prefix="a//b"),
    }
    for field, text in cases.items():
        body = assert_problem(apply(api, text), 400, "POLICY_INVALID", field)
        assert body["field"] == field, (field, body)


def test_bad_yaml_is_refused_with_its_position(api: TestClient) -> None:
    body = assert_problem(apply(api, "name: p\nalias: [production\n"), 400, "POLICY_INVALID")
    assert body["field"] == "source" and body["line"] >= 2
    body = assert_problem(apply(api, "- just\n- a list\n"), 400, "POLICY_INVALID")
    assert "mapping" in body["detail"]
    too_big = source("p") + "#" * (64 * 1024) + "\n"
    response = api.post(f"{API}/policies", json={"source": too_big})
    assert response.status_code in (400, 413, 422)
    assert response.status_code == 422  # over 65,536 characters: refused by the schema
    # Under 65,536 characters but over 64 KiB of UTF-8: refused by the service.
    wide = source("p") + "# " + "é" * (33 * 1024) + "\n"
    body = assert_problem(apply(api, wide), 400, "POLICY_INVALID")
    assert body["field"] == "source"


def test_only_admins_of_the_prefix_may_apply_or_remove(api: TestClient) -> None:
    maintainer = as_user(api, "maint", "maintainer", "credit/")
    team_admin = as_user(api, "credit-admin", "admin", "credit/")
    body = assert_problem(apply(api, FULL, maintainer), 403, "FORBIDDEN")
    assert body["detail"]
    assert assert_json(apply(api, FULL, team_admin), 201)["version"] == 1
    # An admin of credit/ cannot write a policy over everything, nor move one there.
    assert_problem(apply(api, source("everything"), team_admin), 403, "FORBIDDEN")
    moved = FULL.replace("prefix: credit/", "prefix: ''")
    assert_problem(apply(api, moved, team_admin), 403, "FORBIDDEN")
    assert_problem(
        api.delete(f"{API}/policies/credit-production", headers=maintainer), 403, "FORBIDDEN"
    )
    # Anyone authenticated may read them.
    reader = as_user(api, "someone", "reader", "elsewhere/")
    listed = assert_json(api.get(f"{API}/policies", headers=reader), 200)["items"]
    assert listed[0]["version"] == 1
    assert_json(api.delete(f"{API}/policies/credit-production", headers=team_admin), 200)
