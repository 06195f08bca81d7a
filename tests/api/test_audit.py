"""The audit log over HTTP: who sees which records, filters, pages, export, verify."""

from __future__ import annotations

import hashlib
import json

import pytest
import rfc8785
from sqlalchemy import update

from modeldepot.db.tables import audit_log
from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url, push

ADS = "ads/rec"
ML = "ml/other"


@pytest.fixture
def moves(api) -> None:
    """Two models with versions, and alias moves on each (alias.set, alias.delete)."""
    for name in (ADS, ML):
        push(api, name, {"w": name.encode() + b"1"})
        push(api, name, {"w": name.encode() + b"2"})
    bob = as_user(api, "bob")
    for name in (ADS, ML):
        assert api.put(model_url(name, "aliases", "prod"), json={"version": 1}).status_code == 200
        put = api.put(model_url(name, "aliases", "prod"), json={"version": 2}, headers=bob)
        assert put.status_code == 200
    assert api.delete(model_url(ML, "aliases", "prod")).status_code == 204


def records(api, headers=None, **params) -> list[dict]:
    page = assert_json(api.get(f"{API}/audit", params=params, headers=headers or {}), 200)
    return page["items"]


def summary(items: list[dict]) -> list[tuple]:
    return [(r["action"], r["target"]) for r in items]


@pytest.mark.usefixtures("moves")
def test_an_admin_sees_every_record_newest_first(api) -> None:
    items = records(api, limit=1000)
    seqs = [r["seq"] for r in items]
    assert seqs == sorted(seqs, reverse=True) and seqs[-1] == 1
    actions = {r["action"] for r in items}
    assert {"user.create", "grant.create", "token.create", "alias.set", "alias.delete"} <= actions
    moved = next(r for r in items if r["action"] == "alias.delete")
    assert (moved["model"], moved["target"], moved["before"]) == (ML, f"{ML}@prod", {"version": 2})
    assert moved["principal"] == "admin" and len(moved["hash"]) == 64


@pytest.mark.usefixtures("moves")
def test_a_maintainer_sees_only_the_records_of_what_it_maintains(api) -> None:
    carol = as_user(api, "carol", "maintainer", "ads/")
    items = records(api, carol, limit=1000)
    assert {r["model"] for r in items} == {ADS}
    assert summary(items) == [
        ("alias.set", f"{ADS}@prod"),
        ("alias.set", f"{ADS}@prod"),
        ("version.create", f"{ADS}:2"),
        ("version.create", f"{ADS}:1"),
        ("model.create", ADS),
    ]
    assert [r["principal"] for r in items[:2]] == ["bob", "admin"]


@pytest.mark.usefixtures("moves")
def test_a_reader_or_contributor_sees_no_record(api) -> None:
    for role in ("reader", "contributor"):
        headers = as_user(api, f"dan-{role}", role, "ads/")
        assert records(api, headers) == []
        answer = api.get(f"{API}/audit", params={"model": ADS}, headers=headers)
        assert_problem(answer, 403, "FORBIDDEN", role)
        # A model it cannot even read answers as if it did not exist.
        answer = api.get(f"{API}/audit", params={"model": ML}, headers=headers)
        assert_problem(answer, 404, "MODEL_NOT_FOUND", role)


@pytest.mark.usefixtures("moves")
def test_records_are_filtered_by_model_prefix_principal_and_action(api) -> None:
    assert summary(records(api, model=ML, action="alias.*")) == [
        ("alias.delete", f"{ML}@prod"),
        ("alias.set", f"{ML}@prod"),
        ("alias.set", f"{ML}@prod"),
    ]
    assert {r["model"] for r in records(api, model=ML)} == {ML}
    assert {r["model"] for r in records(api, prefix="ads/")} == {ADS}
    assert {r["model"] for r in records(api, prefix="ads/rec")} == {ADS}
    assert records(api, prefix="ad") == []
    assert summary(records(api, principal="bob", action="alias.set")) == [
        ("alias.set", f"{ML}@prod"),
        ("alias.set", f"{ADS}@prod"),
    ]
    assert {r["action"] for r in records(api, action="alias.*")} == {"alias.set", "alias.delete"}
    assert {r["action"] for r in records(api, action="token.*")} == {"token.create"}


@pytest.mark.usefixtures("moves")
def test_records_are_filtered_by_time(api) -> None:
    items = records(api, action="alias.*")
    middle = items[2]["at"]
    later = records(api, action="alias.*", since=middle)
    earlier = records(api, action="alias.*", until=middle)
    assert [r["seq"] for r in later + earlier] == [r["seq"] for r in items]
    assert all(r["at"] >= middle for r in later) and all(r["at"] < middle for r in earlier)


def test_bad_filters_are_refused(api) -> None:
    for params in ({"action": "alias.moved"}, {"action": "nothing.*"}, {"prefix": "a//b"}):
        assert_problem(api.get(f"{API}/audit", params=params), 400, "INVALID_INPUT", params)
    assert_problem(api.get(f"{API}/audit", params={"since": "yesterday"}), 400, "TIME_INVALID")
    assert_problem(api.get(f"{API}/audit", params={"cursor": "!!"}), 400, "CURSOR_INVALID")


@pytest.mark.usefixtures("moves")
def test_pages_follow_the_cursor_to_the_end(api) -> None:
    everything = records(api, limit=1000)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = assert_json(api.get(f"{API}/audit", params=params), 200)
        seen += [r["seq"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["seq"] for r in everything]


def test_the_audit_log_needs_a_credential(anon) -> None:
    for path in ("/audit", "/audit/export", "/audit/verify"):
        assert_problem(anon.get(API + path), 401, "UNAUTHENTICATED", path)


@pytest.mark.usefixtures("moves")
def test_an_export_is_json_lines_oldest_first_each_line_its_hash(api) -> None:
    answer = api.get(f"{API}/audit/export")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [r["seq"] for r in lines] == list(range(1, len(lines) + 1))
    prev = "0" * 64
    for line in lines:
        hash_ = line.pop("hash")
        assert hashlib.sha256(rfc8785.dumps(line)).hexdigest() == hash_
        assert line["prev"] == prev
        prev = hash_
    listed = records(api, limit=1000)
    assert len(lines) == len(listed)


@pytest.mark.usefixtures("moves")
def test_an_export_shows_only_what_the_caller_may_audit(api) -> None:
    carol = as_user(api, "carol", "maintainer", "ml/")
    answer = api.get(f"{API}/audit/export", headers=carol, params={"action": "alias.*"})
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [(r["action"], r["model"]) for r in lines] == [
        ("alias.set", ML),
        ("alias.set", ML),
        ("alias.delete", ML),
    ]
    after = api.get(f"{API}/audit/export", headers=carol, params={"after": lines[1]["seq"]})
    assert [json.loads(x)["seq"] for x in after.text.splitlines()] == [lines[2]["seq"]]
    refused = api.get(f"{API}/audit/export", headers=carol, params={"model": ADS})
    assert_problem(refused, 404, "MODEL_NOT_FOUND")


@pytest.mark.usefixtures("moves")
def test_verify_answers_ok_with_counts_to_admins_only(api) -> None:
    report = assert_json(api.get(f"{API}/audit/verify"), 200)
    assert report["ok"] is True and report["problem"] is None
    assert report["records"] == report["last_seq"] == len(records(api, limit=1000))
    assert report["key_ids"] == [api.app.state.registry.audit.load_key()]
    maintainer = as_user(api, "erin", "maintainer", "/")
    assert_problem(api.get(f"{API}/audit/verify", headers=maintainer), 403, "FORBIDDEN")


@pytest.mark.usefixtures("moves")
def test_verify_names_the_first_inconsistency(api) -> None:
    registry = api.app.state.registry
    with registry.db.write() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 4).values(principal="mallory"))
    report = assert_json(api.get(f"{API}/audit/verify"), 200)
    assert report["ok"] is False
    assert (report["problem"]["seq"], report["problem"]["kind"]) == (4, "column")
    assert report["records"] == 3
