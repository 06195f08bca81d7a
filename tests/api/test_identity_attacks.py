"""Attacks on authentication, each answered with its code: no token, expired, revoked,
malformed, another registry's; guessing rate-limited per address and per account;
secrets never in logs, error bodies or metrics; anonymous access only as configured."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.db.tables import tokens
from modeldepot.registry import Registry
from modeldepot.security import tokens as token_format
from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url, push

PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def from_address(api: TestClient, address: str) -> TestClient:
    """The same app, seen from another client address, sending no credential."""
    return TestClient(api.app, client=(address, 40000), raise_server_exceptions=False)


def new_token(api: TestClient, **body) -> dict:
    return assert_json(api.post(f"{API}/tokens", json={"name": "t", **body}), 201)


def test_no_token_is_refused_with_a_bearer_challenge(anon) -> None:
    response = anon.get(f"{API}/whoami")
    problem = assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="modeldepot"'
    assert "modeldepot login" in problem["detail"]
    assert_problem(anon.get(model_url("ads/x", "aliases")), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer not-a-token",
        "Basic YWRtaW46cGFzc3dvcmQ=",
        "Bearer mdp_short_secret",
        "Bearer mdp_aaaaaaaaaaaa_" + "x" * 42,
    ],
)
def test_a_malformed_credential_is_refused(anon, header: str) -> None:
    response = anon.get(f"{API}/whoami", headers={"Authorization": header})
    problem = assert_problem(response, 401, "UNAUTHENTICATED")
    assert "WWW-Authenticate" in response.headers
    credential = header.partition(" ")[2]
    assert not credential or credential not in str(problem)


def test_a_token_of_another_registry_is_unknown_here(anon) -> None:
    foreign = token_format.generate().text
    problem = assert_problem(
        anon.get(f"{API}/whoami", headers=bearer(foreign)), 401, "UNAUTHENTICATED"
    )
    assert foreign not in str(problem)


def test_a_right_id_with_a_wrong_secret_is_unknown(api) -> None:
    made = new_token(api)
    forged = made["token"][:-4] + ("aaaa" if not made["token"].endswith("aaaa") else "bbbb")
    assert_problem(api.get(f"{API}/whoami", headers=bearer(forged)), 401, "UNAUTHENTICATED")


def test_an_expired_token_is_refused(api, registry) -> None:
    made = new_token(api, expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    with registry.db.write() as conn:
        past = datetime.now(UTC) - timedelta(seconds=1)
        conn.execute(sa.update(tokens).where(tokens.c.id == made["id"]).values(expires_at=past))
    assert_problem(api.get(f"{API}/whoami", headers=bearer(made["token"])), 401, "TOKEN_EXPIRED")


def test_a_revoked_token_stops_working_at_once_though_it_was_cached(api) -> None:
    made = new_token(api)
    assert api.get(f"{API}/whoami", headers=bearer(made["token"])).status_code == 200
    assert api.delete(f"{API}/tokens/{made['id']}").status_code == 200
    assert_problem(api.get(f"{API}/whoami", headers=bearer(made["token"])), 401, "TOKEN_REVOKED")


def test_a_lost_grant_takes_effect_at_once_though_the_token_was_cached(api) -> None:
    push(api, "ads/x")
    alice = as_user(api, "alice", "reader", "ads/")
    assert api.get(model_url("ads/x", "aliases"), headers=alice).status_code == 200
    (grant,) = assert_json(api.get(f"{API}/grants", params={"subject": "alice"}), 200)["items"]
    assert api.delete(f"{API}/grants/{grant['id']}").status_code == 204
    assert_problem(api.get(model_url("ads/x", "aliases"), headers=alice), 404, "MODEL_NOT_FOUND")


def test_failed_authentication_is_rate_limited_per_address(api, registry) -> None:
    limit = registry.settings.auth_max_failures
    attacker = from_address(api, "203.0.113.7")
    for _ in range(limit):
        bad = bearer(token_format.generate().text)
        assert_problem(attacker.get(f"{API}/whoami", headers=bad), 401, "UNAUTHENTICATED")
    response = attacker.get(f"{API}/whoami", headers=bearer(token_format.generate().text))
    problem = assert_problem(response, 429, "AUTH_RATE_LIMITED")
    assert 1 <= int(response.headers["Retry-After"]) <= 60 and problem["retry_after"] >= 1
    # Even a right token is refused from there until the window passes (one not yet
    # cached: a cached one never reaches the database, nor the limiter)...
    fresh = new_token(api)
    assert_problem(
        attacker.get(f"{API}/whoami", headers=bearer(fresh["token"])), 429, "AUTH_RATE_LIMITED"
    )
    assert_problem(attacker.get(f"{API}/whoami"), 429, "AUTH_RATE_LIMITED")
    # ...while other addresses are not held back.
    other = from_address(api, "198.51.100.1")
    assert other.get(f"{API}/whoami", headers=bearer(fresh["token"])).status_code == 200


def test_guessing_one_token_is_rate_limited_per_token_across_addresses(api, registry) -> None:
    made = new_token(api)
    token_id = made["id"]
    limit = registry.settings.auth_max_failures
    for i in range(limit):
        guess = f"mdp_{token_id}_" + token_format.generate().text.split("_", 2)[2]
        client = from_address(api, f"192.0.2.{i + 1}")
        assert_problem(client.get(f"{API}/whoami", headers=bearer(guess)), 401, "UNAUTHENTICATED")
    guess = f"mdp_{token_id}_" + token_format.generate().text.split("_", 2)[2]
    late = from_address(api, "192.0.2.200")
    assert_problem(late.get(f"{API}/whoami", headers=bearer(guess)), 429, "AUTH_RATE_LIMITED")


def test_password_guessing_is_rate_limited_per_account_and_per_address(api, registry) -> None:
    api.post(f"{API}/principals", json={"name": "alice", "password": PASSWORD})
    limit = registry.settings.auth_max_failures
    for i in range(limit):
        client = from_address(api, f"192.0.2.{i + 1}")
        body = {"username": "alice", "password": f"guess {i:04d}"}
        assert_problem(client.post(f"{API}/auth/token", json=body), 401, "UNAUTHENTICATED")
    # The account is held back, whatever the address and even with the right password.
    late = from_address(api, "192.0.2.250")
    body = {"username": "alice", "password": PASSWORD}
    response = late.post(f"{API}/auth/token", json=body)
    assert_problem(response, 429, "AUTH_RATE_LIMITED")
    assert int(response.headers["Retry-After"]) >= 1
    # One address trying many names is held back too.
    sprayer = from_address(api, "203.0.113.9")
    for i in range(limit):
        body = {"username": f"user{i}", "password": PASSWORD}
        assert_problem(sprayer.post(f"{API}/auth/token", json=body), 401, "UNAUTHENTICATED")
    body = {"username": "someone", "password": PASSWORD}
    assert_problem(sprayer.post(f"{API}/auth/token", json=body), 429, "AUTH_RATE_LIMITED")


def test_an_unknown_user_costs_the_password_check_a_known_one_does(api) -> None:
    api.post(f"{API}/principals", json={"name": "alice", "password": PASSWORD})

    def seconds(username: str, address: str) -> float:
        client = from_address(api, address)
        start = time.perf_counter()
        body = {"username": username, "password": "wrong password"}
        assert_problem(client.post(f"{API}/auth/token", json=body), 401, "UNAUTHENTICATED")
        return time.perf_counter() - start

    known = statistics.median(seconds("alice", f"192.0.2.{i}") for i in range(1, 4))
    unknown = statistics.median(seconds(f"ghost{i}", f"192.0.2.{i + 10}") for i in range(3))
    # argon2 dominates both; without the decoy hash the unknown name answers ~100x faster.
    assert unknown > known * 0.5, (known, unknown)


def test_secrets_never_appear_in_logs_error_bodies_or_metrics(api, caplog) -> None:
    api.post(f"{API}/principals", json={"name": "alice", "password": PASSWORD})
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        made = new_token(api, name="secret-check")
        good = made["token"]
        seen.append(api.get(f"{API}/whoami", headers=bearer(good)).text)
        wrong = good[:-3] + ("xyz" if not good.endswith("xyz") else "abc")
        seen.append(api.get(f"{API}/whoami", headers=bearer(wrong)).text)
        seen.append(api.get(f"{API}/whoami", headers={"Authorization": f"Basic {good}"}).text)
        body = {"username": "alice", "password": PASSWORD + "!"}
        seen.append(api.post(f"{API}/auth/token", json=body).text)
        seen.append(api.post(f"{API}/principals", json={"name": "x y", "password": PASSWORD}).text)
        seen.append(api.post(f"{API}/principals", json={"name": "bob", "password": "tiny-pw"}).text)
        metrics = api.get("/metrics").text
    secrets = [good, good.split("_", 2)[2], wrong.split("_", 2)[2], PASSWORD, "tiny-pw"]
    for text in [caplog.text, metrics, *seen]:
        for secret in secrets:
            assert secret not in text, (secret, text[:500])


@pytest.fixture
def anonymous(api, registry, request) -> TestClient:
    """``api`` serving a registry whose MODELDEPOT_ANONYMOUS is ``request.param``,
    sending no credential."""
    settings = replace(registry.settings, anonymous=request.param)
    other = Registry(registry.db, LocalBlobStore(settings.blob_dir, fsync=False), settings)
    api.app.state.registry = other
    return api


@pytest.mark.parametrize("anonymous", ["read"], indirect=True)
def test_anonymous_read_reads_but_does_not_write(anonymous) -> None:
    push(anonymous, "ads/x")  # as the admin
    del anonymous.headers["Authorization"]
    me = assert_json(anonymous.get(f"{API}/whoami"), 200)
    assert (me["name"], me["kind"], me["grants"], me["token"]) == (
        "anonymous",
        "anonymous",
        ["reader on /"],
        None,
    )
    assert assert_json(anonymous.get(model_url("ads/x", "aliases")), 200)["items"] == []
    moved = anonymous.put(model_url("ads/x", "aliases", "prod"), json={"version": 1})
    assert_problem(moved, 403, "FORBIDDEN")
    assert_problem(anonymous.post(f"{API}/tokens", json={"name": "t"}), 401, "UNAUTHENTICATED")
    assert_problem(anonymous.get(f"{API}/tokens"), 401, "UNAUTHENTICATED")
    assert_problem(anonymous.get(f"{API}/principals"), 403, "FORBIDDEN")
    body = {"subject": "admin", "role": "reader", "prefix": "/"}
    assert_problem(anonymous.post(f"{API}/grants", json=body), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("anonymous", ["none"], indirect=True)
def test_anonymous_none_refuses_every_request_without_a_token(anonymous) -> None:
    push(anonymous, "ads/x")
    del anonymous.headers["Authorization"]
    for response in (
        anonymous.get(model_url("ads/x", "aliases")),
        anonymous.put(model_url("ads/x", "aliases", "prod"), json={"version": 1}),
        anonymous.get(f"{API}/whoami"),
    ):
        assert_problem(response, 401, "UNAUTHENTICATED")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.get("/healthz").status_code == 200
