"""Identities over HTTP: whoami, users and service accounts, groups, grants, tokens,
passwords; each change audited, none ever showing a secret again.

``api`` sends the admin's token; a request with its own ``headers`` acts as whoever
they name (request headers replace the client's).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from modeldepot.db.tables import audit_log, principals
from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url, push

PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_user(api, name: str, *, password: str | None = PASSWORD, kind: str = "user") -> dict:
    body = {"name": name, "kind": kind, "password": password}
    return assert_json(api.post(f"{API}/principals", json=body), 201)


def grant(api, subject: str, role: str, prefix: str, headers=None):
    body = {"subject": subject, "role": role, "prefix": prefix}
    return api.post(f"{API}/grants", json=body, headers=headers or {})


def new_token(api, headers=None, **body) -> dict:
    return assert_json(api.post(f"{API}/tokens", json={"name": "t", **body}, headers=headers), 201)


def actions(registry) -> list[str]:
    with registry.db.read() as conn:
        return list(conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.seq)).scalars())


def test_whoami_names_the_admin_its_roles_and_its_token(api) -> None:
    me = assert_json(api.get(f"{API}/whoami"), 200)
    assert (me["name"], me["kind"], me["grants"]) == ("admin", "user", ["admin on /"])
    assert me["token"]["name"] == "bootstrap" and me["token"]["revoked"] is False
    assert "token" not in me["token"] or not str(me["token"]).count("mdp_")


def test_created_user_logs_in_with_its_password_and_acts_with_its_roles(api) -> None:
    new_user(api, "alice")
    assert_json(grant(api, "alice", "contributor", "ads/"), 201)
    body = {"username": "alice", "password": PASSWORD, "token_name": "laptop"}
    issued = assert_json(api.post(f"{API}/auth/token", json=body), 201)
    assert issued["token"].startswith("mdp_") and issued["owner"] == "alice"
    alice = bearer(issued["token"])
    me = assert_json(api.get(f"{API}/whoami", headers=alice), 200)
    assert (me["name"], me["grants"], me["token"]["name"]) == (
        "alice",
        ["contributor on ads/"],
        "laptop",
    )
    # Aliases are on the unit of work: its roles decide, inside the service.
    push(api, "ads/x")
    push(api, "web/x")
    assert api.get(model_url("ads/x", "aliases"), headers=alice).status_code == 200
    assert_problem(api.get(model_url("web/x", "aliases"), headers=alice), 404, "MODEL_NOT_FOUND")
    moved = api.put(model_url("ads/x", "aliases", "prod"), json={"version": 1}, headers=alice)
    assert_problem(moved, 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password!"), ("nobody", PASSWORD), ("robot", PASSWORD)],
)
def test_login_fails_alike_for_a_wrong_password_unknown_user_or_service_account(
    api, username, password
) -> None:
    new_user(api, "alice")
    new_user(api, "robot", password=None, kind="service")
    body = {"username": username, "password": password}
    problem = assert_problem(api.post(f"{API}/auth/token", json=body), 401, "UNAUTHENTICATED")
    assert problem["detail"] == "wrong user name or password"
    assert password not in str(problem)


def test_a_disabled_user_can_neither_log_in_nor_use_its_tokens(api) -> None:
    new_user(api, "alice")
    token = assert_json(
        api.post(f"{API}/auth/token", json={"username": "alice", "password": PASSWORD}), 201
    )["token"]
    assert api.get(f"{API}/whoami", headers=bearer(token)).status_code == 200
    changed = assert_json(api.patch(f"{API}/principals/alice", json={"disabled": True}), 200)
    assert changed["disabled"] is True
    assert_problem(api.get(f"{API}/whoami", headers=bearer(token)), 401, "UNAUTHENTICATED")
    body = {"username": "alice", "password": PASSWORD}
    assert_problem(api.post(f"{API}/auth/token", json=body), 401, "UNAUTHENTICATED")
    assert_json(api.patch(f"{API}/principals/alice", json={"disabled": False}), 200)
    assert api.get(f"{API}/whoami", headers=bearer(token)).status_code == 200


def test_principals_are_listed_shown_and_deleted_by_an_admin(api, registry) -> None:
    new_user(api, "alice")
    new_user(api, "robot", password=None, kind="service")
    names = [p["name"] for p in assert_json(api.get(f"{API}/principals"), 200)["items"]]
    assert names == ["admin", "alice", "robot"]
    services = assert_json(api.get(f"{API}/principals", params={"kind": "service"}), 200)
    assert [p["name"] for p in services["items"]] == ["robot"]
    page = assert_json(api.get(f"{API}/principals", params={"limit": 2}), 200)
    rest = assert_json(api.get(f"{API}/principals", params={"cursor": page["next_cursor"]}), 200)
    assert [p["name"] for p in page["items"] + rest["items"]] == names
    alice = assert_json(api.get(f"{API}/principals/alice"), 200)
    assert (alice["kind"], alice["has_password"], alice["disabled"]) == ("user", True, False)
    assert "password_hash" not in alice
    assert api.delete(f"{API}/principals/robot").status_code == 204
    assert_problem(api.get(f"{API}/principals/robot"), 404, "PRINCIPAL_NOT_FOUND")
    assert actions(registry)[-3:] == ["user.create", "user.create", "user.delete"]


def test_names_are_one_namespace_for_users_service_accounts_and_groups(api) -> None:
    new_user(api, "alice")
    assert_problem(api.post(f"{API}/principals", json={"name": "alice"}), 409, "PRINCIPAL_EXISTS")
    assert_problem(api.post(f"{API}/groups", json={"name": "alice"}), 409, "PRINCIPAL_EXISTS")
    assert_json(api.post(f"{API}/groups", json={"name": "team"}), 201)
    assert_problem(api.post(f"{API}/principals", json={"name": "team"}), 409, "PRINCIPAL_EXISTS")
    assert_problem(api.post(f"{API}/principals", json={"name": "Bad Name"}), 400, "INVALID_INPUT")


def test_service_accounts_have_no_password(api) -> None:
    body = {"name": "robot", "kind": "service", "password": PASSWORD}
    assert_problem(api.post(f"{API}/principals", json=body), 400, "INVALID_INPUT")


def test_a_user_reads_and_edits_itself_but_not_others(api) -> None:
    new_user(api, "alice")
    new_user(api, "bob")
    alice = as_user(api, "alice", "reader", "/")
    assert assert_json(api.get(f"{API}/principals/alice", headers=alice), 200)["name"] == "alice"
    assert_problem(api.get(f"{API}/principals/bob", headers=alice), 403, "FORBIDDEN")
    assert_problem(api.get(f"{API}/principals", headers=alice), 403, "FORBIDDEN")
    changed = api.patch(
        f"{API}/principals/alice",
        json={"display_name": "Alice", "password": "n3w password"},
        headers=alice,
    )
    assert assert_json(changed, 200)["display_name"] == "Alice"
    body = {"username": "alice", "password": "n3w password"}
    assert api.post(f"{API}/auth/token", json=body).status_code == 201
    for update in ({"disabled": True}, {"clear_password": True}):
        assert_problem(
            api.patch(f"{API}/principals/alice", json=update, headers=alice), 403, "FORBIDDEN"
        )
    assert_problem(
        api.patch(f"{API}/principals/bob", json={"display_name": "x"}, headers=alice),
        403,
        "FORBIDDEN",
    )


def test_an_admin_cannot_disable_or_delete_itself(api) -> None:
    assert_problem(
        api.patch(f"{API}/principals/admin", json={"disabled": True}), 400, "INVALID_INPUT"
    )
    assert_problem(api.delete(f"{API}/principals/admin"), 400, "INVALID_INPUT")


def test_group_members_hold_the_group_roles_until_they_leave(api) -> None:
    new_user(api, "alice")
    alice = as_user(api, "alice", "reader", "docs/")
    push(api, "ads/model")
    assert_json(api.post(f"{API}/groups", json={"name": "team-ads", "description": "Ads"}), 201)
    assert_json(grant(api, "team-ads", "contributor", "ads/"), 201)
    assert api.get(model_url("ads/model", "aliases"), headers=alice).status_code == 404
    group = assert_json(api.put(f"{API}/groups/team-ads/members/alice"), 200)
    assert group["members"] == ["alice"]
    assert [(g["subject"], g["role"], g["prefix"]) for g in group["grants"]] == [
        ("team-ads", "contributor", "ads/")
    ]
    assert api.get(model_url("ads/model", "aliases"), headers=alice).status_code == 200
    me = assert_json(api.get(f"{API}/whoami", headers=alice), 200)
    assert me["groups"] == ["team-ads"] and "contributor on ads/" in me["grants"]
    assert_problem(api.put(f"{API}/groups/team-ads/members/alice"), 409, "CONFLICT")
    assert_json(api.delete(f"{API}/groups/team-ads/members/alice"), 200)
    assert_problem(
        api.get(model_url("ads/model", "aliases"), headers=alice), 404, "MODEL_NOT_FOUND"
    )
    listed = assert_json(api.get(f"{API}/groups"), 200)["items"]
    assert [g["name"] for g in listed] == ["team-ads"]
    assert api.delete(f"{API}/groups/team-ads").status_code == 204
    assert_problem(api.get(f"{API}/groups/team-ads"), 404, "PRINCIPAL_NOT_FOUND")
    assert_problem(api.post(f"{API}/groups", json={"name": "g"}, headers=alice), 403, "FORBIDDEN")


def test_an_admin_grants_anything_and_a_grant_replaces_the_role_on_its_prefix(api) -> None:
    new_user(api, "alice")
    first = assert_json(grant(api, "alice", "reader", "ads"), 201)
    assert (first["subject"], first["subject_kind"], first["prefix"], first["role"]) == (
        "alice",
        "user",
        "ads/",
        "reader",
    )
    again = assert_json(grant(api, "alice", "admin", "/ads/"), 201)
    assert (again["id"], again["role"]) == (first["id"], "admin")
    listed = assert_json(api.get(f"{API}/grants", params={"subject": "alice"}), 200)["items"]
    assert [(g["prefix"], g["role"]) for g in listed] == [("ads/", "admin")]
    assert api.delete(f"{API}/grants/{first['id']}").status_code == 204
    assert assert_json(api.get(f"{API}/grants", params={"subject": "alice"}), 200)["items"] == []
    assert_problem(api.delete(f"{API}/grants/{first['id']}"), 404, "GRANT_NOT_FOUND")
    assert_problem(grant(api, "nobody", "reader", "ads/"), 404, "PRINCIPAL_NOT_FOUND")
    assert_problem(grant(api, "alice", "owner", "ads/"), 422, "INVALID_INPUT")


def test_a_maintainer_grants_roles_below_its_own_under_its_prefixes(api) -> None:
    new_user(api, "bob")
    maint = as_user(api, "mia", "maintainer", "ads/")
    assert_json(grant(api, "bob", "contributor", "ads/vision/", maint), 201)
    assert_json(grant(api, "bob", "reader", "ads/", maint), 201)
    for role, prefix in [
        ("admin", "ads/"),
        ("maintainer", "ads/"),
        ("reader", "web/"),
        ("reader", "/"),
    ]:
        problem = assert_problem(grant(api, "bob", role, prefix, maint), 403, "FORBIDDEN")
        assert problem["permission"] == "grant:manage"
    # It sees the grants under its prefixes, and its own, not the others.
    seen = assert_json(api.get(f"{API}/grants", headers=maint), 200)["items"]
    assert sorted((g["subject"], g["prefix"]) for g in seen) == [
        ("bob", "ads/"),
        ("bob", "ads/vision/"),
        ("mia", "ads/"),
    ]


def test_a_maintainer_cannot_change_or_remove_a_grant_at_or_above_its_role(api) -> None:
    maint = as_user(api, "mia", "maintainer", "ads/")
    as_user(api, "max", "maintainer", "ads/")
    assert_problem(grant(api, "max", "reader", "ads/", maint), 403, "FORBIDDEN")
    theirs = assert_json(api.get(f"{API}/grants", params={"subject": "max"}), 200)["items"][0]
    assert_problem(api.delete(f"{API}/grants/{theirs['id']}", headers=maint), 403, "FORBIDDEN")
    admins = assert_json(api.get(f"{API}/grants", params={"subject": "admin"}), 200)["items"][0]
    assert_problem(
        api.delete(f"{API}/grants/{admins['id']}", headers=maint), 404, "GRANT_NOT_FOUND"
    )


def test_a_user_cannot_grant_itself_more(api) -> None:
    contributor = as_user(api, "carl", "contributor", "ads/")
    assert_problem(grant(api, "carl", "maintainer", "ads/", contributor), 403, "FORBIDDEN")
    assert_problem(grant(api, "carl", "admin", "/", contributor), 403, "FORBIDDEN")
    maint = as_user(api, "mia", "maintainer", "ads/")
    assert_problem(grant(api, "mia", "maintainer", "ads/sub/", maint), 403, "FORBIDDEN")
    assert_problem(grant(api, "mia", "admin", "ads/", maint), 403, "FORBIDDEN")
    me = assert_json(api.get(f"{API}/whoami", headers=maint), 200)
    assert me["grants"] == ["maintainer on ads/"]


def test_tokens_are_shown_once_listed_without_secrets_and_revoked(api, registry) -> None:
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = new_token(
        api, name="ci", scope={"prefix": "ads/", "role": "contributor"}, expires_at=expires
    )
    assert created["token"].startswith("mdp_") and created["scope"] == {
        "prefix": "ads/",
        "role": "contributor",
    }
    listed = assert_json(api.get(f"{API}/tokens"), 200)["items"]
    assert sorted(t["name"] for t in listed) == ["bootstrap", "ci"]
    assert created["token"] not in api.get(f"{API}/tokens").text
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    ci = bearer(created["token"])
    assert api.get(f"{API}/whoami", headers=ci).status_code == 200
    used = next(t for t in assert_json(api.get(f"{API}/tokens"), 200)["items"] if t["name"] == "ci")
    assert used["last_used_at"] is not None and used["last_used_from"] == "testclient"
    revoked = assert_json(api.delete(f"{API}/tokens/{created['id']}"), 200)
    assert (revoked["revoked"], revoked["revoked_by"]) == (True, "admin")
    assert_problem(api.get(f"{API}/whoami", headers=ci), 401, "TOKEN_REVOKED")
    assert "token.revoke" in actions(registry)


def test_a_user_revokes_its_own_tokens_only(api) -> None:
    alice = as_user(api, "alice", "reader", "/")
    bob = as_user(api, "bob", "reader", "/")
    bobs = new_token(api, bob)
    assert_problem(api.delete(f"{API}/tokens/{bobs['id']}", headers=alice), 404, "TOKEN_NOT_FOUND")
    assert_problem(
        api.get(f"{API}/tokens", params={"owner": "bob"}, headers=alice), 403, "FORBIDDEN"
    )
    assert [
        t["owner"] for t in assert_json(api.get(f"{API}/tokens", headers=alice), 200)["items"]
    ] == ["alice"]
    assert api.delete(f"{API}/tokens/{bobs['id']}", headers=bob).status_code == 200
    everyone = assert_json(api.get(f"{API}/tokens", params={"all": True}), 200)["items"]
    assert {t["owner"] for t in everyone} == {"admin", "alice", "bob"}


def test_an_admin_creates_a_service_account_token(api) -> None:
    new_user(api, "robot", password=None, kind="service")
    assert_json(grant(api, "robot", "contributor", "ads/"), 201)
    made = new_token(api, owner="robot", scope={"prefix": "ads/", "role": "contributor"})
    me = assert_json(api.get(f"{API}/whoami", headers=bearer(made["token"])), 200)
    assert (me["name"], me["kind"]) == ("robot", "service")
    problem = assert_problem(
        api.post(
            f"{API}/tokens",
            json={"name": "x", "owner": "robot", "scope": {"prefix": "ads/", "role": "maintainer"}},
        ),
        403,
        "FORBIDDEN",
    )
    assert "does not hold maintainer" in problem["detail"]


def test_a_scoped_token_creates_tokens_only_within_its_scope(api) -> None:
    scoped = new_token(api, scope={"prefix": "ads/", "role": "contributor"})
    headers = bearer(scoped["token"])
    inherited = new_token(api, headers)
    assert inherited["scope"] == {"prefix": "ads/", "role": "contributor"}
    narrower = new_token(api, headers, scope={"prefix": "ads/vision", "role": "reader"})
    assert narrower["scope"] == {"prefix": "ads/vision/", "role": "reader"}
    for scope in ({"prefix": "/", "role": "reader"}, {"prefix": "ads/", "role": "maintainer"}):
        body = {"name": "wider", "scope": scope}
        assert_problem(api.post(f"{API}/tokens", json=body, headers=headers), 403, "FORBIDDEN")
    # Nor can it act as the admin it belongs to, or set the password that would.
    assert_problem(api.get(f"{API}/principals", headers=headers), 403, "FORBIDDEN")
    body = {"password": "a new password"}
    assert_problem(
        api.patch(f"{API}/principals/admin", json=body, headers=headers), 403, "FORBIDDEN"
    )


def test_a_token_made_by_an_expiring_token_expires_no_later(api) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    parent = new_token(api, expires_at=soon.isoformat())
    child = new_token(api, bearer(parent["token"]))
    assert datetime.fromisoformat(child["expires_at"]) == datetime.fromisoformat(
        parent["expires_at"]
    )
    later = (soon + timedelta(days=1)).isoformat()
    body = {"name": "later", "expires_at": later}
    assert_problem(
        api.post(f"{API}/tokens", json=body, headers=bearer(parent["token"])), 403, "FORBIDDEN"
    )
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert_problem(
        api.post(f"{API}/tokens", json={"name": "p", "expires_at": past}), 400, "INVALID_INPUT"
    )


def test_the_audit_log_records_identity_changes_without_secrets(api, registry) -> None:
    new_user(api, "alice")
    assert_json(grant(api, "alice", "reader", "/"), 201)
    made = new_token(api, name="ci")
    api.patch(f"{API}/principals/alice", json={"password": "another password"})
    with registry.db.read() as conn:
        records = conn.execute(sa.select(audit_log.c.record)).scalars().all()
        hashes = conn.execute(sa.select(principals.c.password_hash)).scalars().all()
    text = "\n".join(records)
    # mdp_<12-character id>_<secret>; the secret may itself hold "_".
    secret = made["token"].split("_", 2)[2]
    assert len(secret) == 43
    assert made["token"] not in text and secret not in text
    assert PASSWORD not in text and "another password" not in text
    assert not any(h and h in text for h in hashes)
    assert {"user.create", "grant.create", "token.create", "user.update"} <= set(actions(registry))


def test_the_last_admin_grant_on_the_root_cannot_be_removed_or_lowered(api) -> None:
    (mine,) = assert_json(api.get(f"{API}/grants", params={"subject": "admin"}), 200)["items"]
    assert_problem(api.delete(f"{API}/grants/{mine['id']}"), 409, "CONFLICT")
    assert_problem(grant(api, "admin", "maintainer", "/"), 409, "CONFLICT")
    new_user(api, "second")
    assert_json(grant(api, "second", "admin", "/"), 201)
    assert api.delete(f"{API}/grants/{mine['id']}").status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/principals/a%00b", None),
        ("patch", "/principals/alice", {"display_name": "a\x00b"}),
        ("post", "/principals", {"name": "nul", "display_name": "a\x00b"}),
        ("post", "/groups", {"name": "g", "description": "a\x00b"}),
        ("get", "/groups/a%00b", None),
        ("post", "/grants", {"subject": "a\x00b", "role": "reader", "prefix": "/"}),
        ("post", "/grants", {"subject": "alice", "role": "reader", "prefix": "a\x00b"}),
        ("get", "/grants?subject=a%00b", None),
        ("get", "/grants?prefix=a%00b", None),
        ("delete", "/grants/99999999999", None),
        ("delete", "/tokens/a%00b", None),
        ("post", "/tokens", {"name": "a\x00b"}),
        ("get", "/tokens?owner=a%00b", None),
        ("post", "/auth/token", {"username": "a\x00b", "password": "x\x00y"}),
    ],
)
def test_odd_input_answers_a_client_error_on_every_database(api, method, path, body) -> None:
    new_user(api, "alice")
    response = api.request(method, f"{API}{path}", json=body)
    assert 400 <= response.status_code < 500, response.text


def test_an_expiry_without_an_offset_is_taken_as_utc(api) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    made = new_token(api, expires_at=later.isoformat())
    assert datetime.fromisoformat(made["expires_at"]) == later.replace(tzinfo=UTC)


def test_replicas_starting_at_once_make_one_admin_and_one_token_file(db, tmp_path) -> None:
    """Two servers' first starts on one empty database: one creates the admin and
    writes its token; the other creates nothing and leaves no file behind."""
    import threading

    from modeldepot.registry.unit import Units
    from modeldepot.security.identity import IdentityService

    services = [IdentityService(db, Units(db)) for _ in range(4)]
    start = threading.Barrier(len(services))
    results: list[object] = [None] * len(services)

    def first_start(i: int) -> None:
        start.wait()
        results[i] = services[i].bootstrap(tmp_path / "shared")

    threads = [threading.Thread(target=first_start, args=(i,)) for i in range(len(services))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = [r for r in results if r is not None]
    assert len(written) == 1
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["admin.token"]
    token = (tmp_path / "shared" / "admin.token").read_text().strip()
    assert services[0].authenticate(token).principal.name == "admin"


def test_a_provisioned_first_admin_token_is_the_one_the_admin_gets(registry, tmp_path) -> None:
    from modeldepot.security.tokens import generate

    provisioned = generate().text
    path = registry.identity.bootstrap(tmp_path / "data", provisioned)
    assert path is not None and path.read_text().strip() == provisioned
    assert registry.authenticator.authenticate(provisioned, "127.0.0.1").principal.name == "admin"
    # Once the registry has its admin, a provisioned token changes nothing.
    assert registry.identity.bootstrap(tmp_path / "again", generate().text) is None


def test_a_malformed_provisioned_token_is_refused(registry, tmp_path) -> None:
    from modeldepot.errors import InvalidInput

    with pytest.raises(InvalidInput):
        registry.identity.bootstrap(tmp_path / "data", "not-a-token")
    assert not (tmp_path / "data" / "admin.token").exists()
