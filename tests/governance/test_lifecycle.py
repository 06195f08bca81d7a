"""A version's lifecycle over HTTP: deprecate, revoke, reinstate, what every read shows
of it, the refusal of a revoked version's manifest, and revocation by dataset (the plan,
its dry run and, with a recording stand-in for the promotion-request service, its
application)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from modeldepot.errors import AliasProtected, Forbidden
from modeldepot.governance.lifecycle import LifecycleService
from modeldepot.registry import Registry
from modeldepot.security.context import Context
from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url
from tests.api.lineage_helpers import dataset, push_version, set_alias

NAME = "ads/rec"
OTHER = "ads/other"
CLICKS = "s3://data/clicks"
VIEWS = "s3://data/views"


def change(api: TestClient, name: str, number: int, verb: str, **body: Any) -> Any:
    return api.post(model_url(name, "versions", str(number), verb), json=body)


def ok(api: TestClient, name: str, number: int, verb: str, **body: Any) -> dict[str, Any]:
    return assert_json(change(api, name, number, verb, **body), 200)  # type: ignore[no-any-return]


def version(api: TestClient, name: str, number: int) -> dict[str, Any]:
    return assert_json(api.get(model_url(name, "versions", str(number))), 200)  # type: ignore[no-any-return]


def manifest(api: TestClient, name: str, number: int, **params: Any) -> Any:
    return api.get(model_url(name, "versions", str(number), "manifest"), params=params)


def records(api: TestClient, action: str) -> list[dict[str, Any]]:
    page = assert_json(api.get(f"{API}/audit", params={"action": action}), 200)
    return page["items"]  # type: ignore[no-any-return]


def pushed(api: TestClient, name: str, count: int, *uses: dict[str, Any]) -> list[int]:
    """``count`` versions of ``name``, each having used the datasets ``uses``."""
    lineage = {"datasets": list(uses)}
    return [
        push_version(api, name, f"{name}{i}{uses}".encode(), lineage=lineage) for i in range(count)
    ]


def protect(registry: Registry, admin: Context, name: str, alias: str) -> None:
    registry.protection.protect(admin, "model", name, alias)


# --- one version ---------------------------------------------------------------------


def test_deprecation_is_shown_by_every_read_of_the_version(api) -> None:
    pushed(api, NAME, 2)
    set_alias(api, NAME, "champion", 1)
    changed = ok(api, NAME, 1, "deprecate", reason="worse AUC", replacement=2)
    assert (changed["status"], changed["status_reason"], changed["replacement"]) == (
        "deprecated",
        "worse AUC",
        2,
    )
    assert changed["status_by"] == "admin" and changed["status_at"] is not None
    assert version(api, NAME, 1)["status"] == "deprecated"
    resolved = assert_json(api.get(f"{API}/resolve", params={"ref": f"{NAME}@champion"}), 200)
    assert (resolved["number"], resolved["status"], resolved["replacement"]) == (1, "deprecated", 2)
    listed = assert_json(api.get(model_url(NAME, "versions")), 200)["items"]
    assert [(v["number"], v["status"]) for v in listed] == [(2, "active"), (1, "deprecated")]
    alias = assert_json(api.get(model_url(NAME, "aliases", "champion")), 200)
    assert alias["version_status"] == "deprecated"
    hits = assert_json(api.get(f"{API}/search/versions", params={"q": ""}), 200)["items"]
    assert {(v["number"], v["status"]) for v in hits} == {(2, "active"), (1, "deprecated")}
    # A deprecated version is still pulled.
    assert manifest(api, NAME, 1).status_code == 200
    (record,) = records(api, "version.deprecate")
    assert record["target"] == f"{NAME}:1"
    assert record["before"] == {"status": "active", "reason": None, "replacement": None}
    assert record["after"] == {"status": "deprecated", "reason": "worse AUC", "replacement": 2}


def test_a_revoked_versions_manifest_is_refused_unless_allowed(api) -> None:
    pushed(api, NAME, 2)
    ok(api, NAME, 1, "deprecate", reason="old", replacement=2)
    revoked = ok(api, NAME, 1, "revoke", reason="trained on leaked data")
    assert revoked["status"] == "revoked" and revoked["replacement"] == 2
    problem = assert_problem(manifest(api, NAME, 1), 409, "VERSION_REVOKED")
    assert "trained on leaked data" in problem["detail"] and f"{NAME}:2" in problem["detail"]
    assert (problem["reason"], problem["replacement"]) == ("trained on leaked data", 2)
    allowed = assert_json(manifest(api, NAME, 1, allow_revoked="true"), 200)
    assert allowed["number"] == 1
    assert manifest(api, NAME, 2).status_code == 200


def test_an_alias_on_a_revoked_version_still_resolves_and_is_flagged(api) -> None:
    pushed(api, NAME, 1)
    set_alias(api, NAME, "champion", 1)
    ok(api, NAME, 1, "revoke", reason="bias found")
    resolved = assert_json(api.get(f"{API}/resolve", params={"ref": f"{NAME}@champion"}), 200)
    assert (resolved["status"], resolved["status_reason"]) == ("revoked", "bias found")
    listed = assert_json(api.get(model_url(NAME, "aliases")), 200)["items"]
    assert [(a["name"], a["version_status"]) for a in listed] == [("champion", "revoked")]
    (entry,) = assert_json(api.get(f"{API}/inventory"), 200)["models"]
    assert entry["aliases"] == {"champion": 1}
    assert entry["alias_status"] == {"champion": "revoked"}


def test_revoking_twice_answers_the_same_and_records_once(api) -> None:
    pushed(api, NAME, 1)
    first = ok(api, NAME, 1, "revoke", reason="leak")
    again = ok(api, NAME, 1, "revoke", reason="another reason")
    assert again == first
    assert len(records(api, "version.revoke")) == 1


def test_reinstating_makes_the_version_pullable_again(api) -> None:
    pushed(api, NAME, 2)
    ok(api, NAME, 1, "deprecate", reason="old", replacement=2)
    ok(api, NAME, 1, "revoke", reason="leak")
    back = ok(api, NAME, 1, "reinstate", reason="false alarm")
    assert (back["status"], back["status_reason"], back["replacement"]) == (
        "active",
        "false alarm",
        None,
    )
    assert manifest(api, NAME, 1).status_code == 200
    (record,) = records(api, "version.reinstate")
    assert record["before"]["status"] == "revoked" and record["after"]["status"] == "active"
    ok(api, NAME, 1, "reinstate", reason="again")
    assert len(records(api, "version.reinstate")) == 1


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001])
def test_a_reason_is_required_and_bounded(api, reason: str) -> None:
    pushed(api, NAME, 1)
    response = change(api, NAME, 1, "revoke", reason=reason)
    assert response.status_code in (400, 422), response.text
    assert version(api, NAME, 1)["status"] == "active"


@pytest.mark.parametrize(
    ("replacement", "says"),
    [(1, "cannot replace itself"), (9, "does not exist"), (2, "is revoked")],
)
def test_a_replacement_must_be_another_usable_version(api, replacement: int, says: str) -> None:
    pushed(api, NAME, 2)
    ok(api, NAME, 2, "revoke", reason="leak")
    problem = assert_problem(
        change(api, NAME, 1, "deprecate", reason="old", replacement=replacement),
        400,
        "INVALID_INPUT",
    )
    assert says in problem["detail"]
    assert version(api, NAME, 1)["status"] == "active"


def test_deprecating_a_revoked_version_is_refused(api) -> None:
    pushed(api, NAME, 1)
    ok(api, NAME, 1, "revoke", reason="leak")
    assert_problem(change(api, NAME, 1, "deprecate", reason="old"), 409, "VERSION_REVOKED")


def test_a_contributor_may_not_change_a_status(api) -> None:
    pushed(api, NAME, 1)
    headers = as_user(api, "carol", "contributor", "ads/")
    url = model_url(NAME, "versions", "1", "revoke")
    assert_problem(api.post(url, json={"reason": "x"}, headers=headers), 403, "FORBIDDEN")
    headers = as_user(api, "mia", "maintainer", "ads/")
    assert api.post(url, json={"reason": "x"}, headers=headers).status_code == 200


def test_a_missing_version_is_not_found(api) -> None:
    pushed(api, NAME, 1)
    assert_problem(change(api, NAME, 5, "revoke", reason="x"), 404, "VERSION_NOT_FOUND")


# --- revocation by dataset -----------------------------------------------------------


def plan(api: TestClient, uri: str, **body: Any) -> Any:
    return api.post(f"{API}/datasets/-/revoke", json={"dataset": uri, "reason": "leak", **body})


def test_a_dry_run_plans_every_version_and_protected_alias_and_changes_nothing(
    api, registry: Registry, admin: Context
) -> None:
    pushed(api, NAME, 1)  # 1: clean
    pushed(api, NAME, 2, dataset(CLICKS))  # 2, 3: made from the bad data
    pushed(api, OTHER, 1, dataset(CLICKS, role="test"))
    pushed(api, OTHER, 1, dataset(VIEWS))
    set_alias(api, NAME, "champion", 1)
    set_alias(api, NAME, "champion", 3)
    set_alias(api, NAME, "canary", 2)
    set_alias(api, OTHER, "champion", 1)
    for name in (NAME, OTHER):
        protect(registry, admin, name, "champion")
    found = assert_json(plan(api, CLICKS), 200)
    assert found["applied"] is False
    assert [(v["model"], v["number"], v["status"], v["permitted"]) for v in found["versions"]] == [
        (OTHER, 1, "active", True),
        (NAME, 2, "active", True),
        (NAME, 3, "active", True),
    ]
    # canary is not protected: it is the caller's to move.
    assert [(a["model"], a["alias"], a["version"], a["target"]) for a in found["aliases"]] == [
        (OTHER, "champion", 1, None),
        (NAME, "champion", 3, 1),
    ]
    assert version(api, NAME, 2)["status"] == "active"
    assert records(api, "version.revoke") == []


def test_the_rollback_target_skips_planned_revoked_and_deleted_versions(
    api, registry: Registry, admin: Context
) -> None:
    pushed(api, NAME, 4)  # 1..4, none made from the data
    (bad,) = pushed(api, NAME, 1, dataset(CLICKS))  # 5
    for number in (1, 2, 3, 4, bad):
        set_alias(api, NAME, "champion", number)
    ok(api, NAME, 4, "revoke", reason="older problem")
    assert api.delete(model_url(NAME, "versions", "3")).status_code == 200
    protect(registry, admin, NAME, "champion")
    (rollback,) = assert_json(plan(api, CLICKS), 200)["aliases"]
    assert (rollback["version"], rollback["target"]) == (bad, 2)


class Recorder:
    """A stand-in for the promotion-request service's ``open_rollback``."""

    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[tuple[str, str, str, str]] = []
        self.fail_on = fail_on

    def __call__(self, ctx: Context, name: str, alias: str, reason: str) -> object:
        from modeldepot.errors import RequestClosed

        self.calls.append((ctx.name, name, alias, reason))
        if alias == self.fail_on:
            raise RequestClosed("a freeze holds")
        return 40 + len(self.calls)  # the request's id, as RequestService.open_rollback


def test_applying_revokes_everything_then_opens_the_rollbacks(
    api, registry: Registry, admin: Context
) -> None:
    pushed(api, NAME, 1)
    pushed(api, NAME, 2, dataset(CLICKS))
    for alias in ("champion", "stable", "frozen"):
        set_alias(api, NAME, alias, 1)
        set_alias(api, NAME, alias, 2)
    set_alias(api, NAME, "first", 2)  # never pointed anywhere else: no target
    for alias in ("champion", "stable", "frozen", "first"):
        protect(registry, admin, NAME, alias)
    ok(api, NAME, 3, "revoke", reason="earlier")
    recorder = Recorder(fail_on="frozen")
    service = LifecycleService(registry.units, open_rollback=recorder)
    done = service.revoke_by_dataset(admin, CLICKS, "  leaked rows  ", apply=True)
    assert done.applied and done.reason == "leaked rows"
    assert [(v.number, v.status) for v in done.versions] == [(2, "active"), (3, "revoked")]
    assert version(api, NAME, 2)["status"] == "revoked"
    assert version(api, NAME, 2)["status_reason"] == "leaked rows"
    # Version 3 was revoked already: one new record, for version 2.
    assert [r["target"] for r in records(api, "version.revoke")] == [f"{NAME}:2", f"{NAME}:3"]
    assert recorder.calls == [
        ("admin", NAME, alias, "leaked rows") for alias in ("champion", "frozen", "stable")
    ]
    by_alias = {a.alias: a for a in done.aliases}
    assert (by_alias["champion"].target, by_alias["champion"].request) == (1, 41)
    assert by_alias["frozen"].request is None
    assert by_alias["frozen"].note == "REQUEST_CLOSED: a freeze holds"
    assert (by_alias["stable"].request, by_alias["first"].target) == (43, None)
    assert by_alias["first"].request is None
    assert by_alias["first"].note.startswith("no earlier version")


def test_applying_is_refused_whole_when_one_model_is_not_the_callers(
    api, registry: Registry
) -> None:
    pushed(api, NAME, 1, dataset(CLICKS))
    pushed(api, "team/x", 1, dataset(CLICKS))
    as_user(api, "mia", "reader", "team/")
    headers = as_user(api, "mia", "maintainer", "ads/")
    url = f"{API}/datasets/-/revoke"
    body = {"dataset": CLICKS, "reason": "leak"}
    found = assert_json(api.post(url, json=body, headers=headers), 200)
    assert [(v["model"], v["permitted"]) for v in found["versions"]] == [
        (NAME, True),
        ("team/x", False),
    ]
    problem = assert_problem(
        api.post(url, json={**body, "apply": True}, headers=headers), 403, "FORBIDDEN"
    )
    assert "team/x" in problem["detail"]
    assert version(api, NAME, 1)["status"] == "active"


def test_applying_without_a_request_service_says_so(
    api, registry: Registry, admin: Context
) -> None:
    pushed(api, NAME, 1)
    pushed(api, NAME, 1, dataset(CLICKS))
    set_alias(api, NAME, "champion", 1)
    set_alias(api, NAME, "champion", 2)
    protect(registry, admin, NAME, "champion")
    registry.lifecycle.open_rollback = None
    done = assert_json(plan(api, CLICKS, apply=True), 200)
    (rollback,) = done["aliases"]
    assert (rollback["target"], rollback["request"]) == (1, None)
    assert "no promotion-request service" in rollback["note"]
    assert version(api, NAME, 2)["status"] == "revoked"
    # The alias itself has not moved: that is the rollback request's job.
    with pytest.raises(AliasProtected):
        registry.aliases.set_alias(Context.system("tests"), NAME, "champion", 1)


def test_an_unknown_dataset_is_not_found(api) -> None:
    pushed(api, NAME, 1, dataset(CLICKS))
    assert_problem(plan(api, "s3://data/nothing"), 404, "DATASET_NOT_FOUND")
    assert_problem(plan(api, CLICKS, digest="sha256:" + "f" * 64), 404, "DATASET_NOT_FOUND")
    assert_problem(plan(api, CLICKS, reason=" "), 400, "INVALID_INPUT")


def test_a_caller_outside_the_namespace_cannot_see_the_dataset(api) -> None:
    pushed(api, NAME, 1, dataset(CLICKS))
    headers = as_user(api, "olaf", "maintainer", "other/")
    response = api.post(
        f"{API}/datasets/-/revoke", json={"dataset": CLICKS, "reason": "x"}, headers=headers
    )
    assert_problem(response, 404, "DATASET_NOT_FOUND")


def test_forbidden_is_raised_by_the_service_too(registry: Registry, api) -> None:
    pushed(api, NAME, 1, dataset(CLICKS))
    from modeldepot.security.access import Access, Grant
    from modeldepot.security.context import Principal
    from modeldepot.security.roles import Role, normalize_prefix

    reader = Access((Grant(normalize_prefix("ads/"), Role.READER),))
    ctx = Context(Principal(None, "rita", "user"), reader)
    with pytest.raises(Forbidden):
        registry.lifecycle.revoke_by_dataset(ctx, CLICKS, "leak", apply=True)
    assert registry.lifecycle.revoke_by_dataset(ctx, CLICKS, "leak", apply=False).versions
