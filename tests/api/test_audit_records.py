"""Each change through the API appends exactly one record naming what changed, with
who did it and its before and after; reads append nothing."""

from __future__ import annotations

import json

import sqlalchemy as sa

from modeldepot.db.tables import audit_log
from tests.api.helpers import API, as_user, assert_json, model_url, push

NAME = "ads/rec"


def log(registry, since: int = 0) -> list[tuple]:
    with registry.db.read() as conn:
        rows = conn.execute(
            sa.select(audit_log).where(audit_log.c.seq > since).order_by(audit_log.c.seq)
        ).all()
    return rows


def last_seq(registry) -> int:
    rows = log(registry)
    return rows[-1].seq if rows else 0


def test_every_model_and_version_change_is_one_record(api, registry) -> None:
    alice = as_user(api, "alice", "maintainer", "ads/")
    start = last_seq(registry)
    steps = [
        ("POST", f"{API}/models", {"json": {"name": NAME, "owner": "team-a"}}),
        ("PATCH", model_url(NAME), {"json": {"description": "d", "risk_level": "high"}}),
        ("PUT", model_url(NAME, "tags", "team"), {"json": {"value": "ads"}}),
        ("DELETE", model_url(NAME, "tags", "team"), {}),
        ("PUT", model_url(NAME, "card"), {"json": {"card": "# Card"}}),
    ]
    for method, url, kwargs in steps:
        assert api.request(method, url, headers=alice, **kwargs).status_code < 300, url
    push(api, NAME, {"w.bin": b"one"})
    for method, url, kwargs in [
        ("PUT", model_url(NAME, "versions", "1", "tags", "stage"), {"json": {"value": "qa"}}),
        ("DELETE", model_url(NAME, "versions", "1", "tags", "stage"), {}),
        ("PUT", model_url(NAME, "aliases", "prod"), {"json": {"version": 1}}),
        ("DELETE", model_url(NAME, "aliases", "prod"), {}),
        ("DELETE", model_url(NAME, "versions", "1"), {}),
        ("POST", model_url(NAME, "versions", "1", "restore"), {}),
        ("DELETE", model_url(NAME), {}),
        ("POST", model_url(NAME, "restore"), {}),
    ]:
        assert api.request(method, url, headers=alice, **kwargs).status_code < 300, url
    # Reads record nothing.
    for url in (model_url(NAME), model_url(NAME, "versions"), f"{API}/models"):
        assert_json(api.get(url, headers=alice), 200)
    records = [
        (r.action, r.target, r.principal)
        for r in log(registry, start)
        if not r.action.startswith(("user.", "grant.", "token.", "upload."))
    ]
    assert records == [
        ("model.create", NAME, "alice"),
        ("model.update", NAME, "alice"),
        ("model.tag.set", f"{NAME}#team", "alice"),
        ("model.tag.delete", f"{NAME}#team", "alice"),
        ("model.card.set", f"{NAME}/card", "alice"),
        ("version.create", f"{NAME}:1", "admin"),
        ("version.tag.set", f"{NAME}:1#stage", "alice"),
        ("version.tag.delete", f"{NAME}:1#stage", "alice"),
        ("alias.set", f"{NAME}@prod", "alice"),
        ("alias.delete", f"{NAME}@prod", "alice"),
        ("version.delete", f"{NAME}:1", "alice"),
        ("version.restore", f"{NAME}:1", "alice"),
        ("model.delete", NAME, "alice"),
        ("model.restore", NAME, "alice"),
    ]


def test_before_and_after_say_what_changed(api, registry) -> None:
    push(api, NAME, {"w.bin": b"one"})
    api.patch(model_url(NAME), json={"description": "first", "owner": "a"})
    start = last_seq(registry)
    api.patch(model_url(NAME), json={"description": "second", "owner": "b", "tags": {"k": "v"}})
    (row,) = log(registry, start)
    record = json.loads(row.record)
    assert record["before"] == {"description": "first", "owner": "a", "tags": {}}
    assert record["after"] == {"description": "second", "owner": "b", "tags": {"k": "v"}}
    assert record["request_id"] and record["client"] == "testclient"


def test_a_refused_change_records_nothing(api, registry) -> None:
    push(api, NAME, {"w.bin": b"one"})
    reader = as_user(api, "rita", "reader", "ads/")
    start = last_seq(registry)
    response = api.put(model_url(NAME, "aliases", "prod"), json={"version": 1}, headers=reader)
    assert response.status_code == 403
    assert log(registry, start) == []
