"""``push --alias``: the version and its aliases are one commit, all or nothing."""

from __future__ import annotations

import sqlalchemy as sa

from modeldepot.db.tables import audit_log, versions
from tests.api.helpers import (
    API,
    as_user,
    assert_json,
    assert_problem,
    commit,
    digest_of,
    entry,
    model_url,
    push,
    put_blob,
)

NAME = "ads/rec"


def _actions(registry) -> list[tuple[str, str, str]]:
    with registry.db.read() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.target, audit_log.c.principal).order_by(
                audit_log.c.seq
            )
        ).all()
    return [tuple(r) for r in rows if r.action.split(".")[0] in ("model", "version", "alias")]


def _version_count(registry) -> int:
    with registry.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one()


def test_commit_with_aliases_points_them_at_the_new_version(api, registry) -> None:
    put_blob(api, b"weights")
    body = assert_json(
        commit(api, NAME, [entry("model.bin", b"weights")], aliases=["champion", "candidate"]), 201
    )
    assert body["aliases"] == ["candidate", "champion"]
    for alias in ("candidate", "champion"):
        assert assert_json(api.get(model_url(NAME, "aliases", alias)), 200)["version"] == 1
    assert _actions(registry) == [
        ("model.create", NAME, "admin"),
        ("version.create", f"{NAME}:1", "admin"),
        ("alias.set", f"{NAME}@champion", "admin"),
        ("alias.set", f"{NAME}@candidate", "admin"),
    ]


def test_the_second_push_moves_the_alias_and_history_keeps_both(api) -> None:
    push(api, NAME, {"a.bin": b"one"}, aliases=["candidate"])
    push(api, NAME, {"a.bin": b"two"}, aliases=["candidate"])
    history = assert_json(api.get(model_url(NAME, "aliases", "candidate", "history")), 200)
    assert [(e["from_version"], e["to_version"]) for e in history["items"]] == [(1, 2), (None, 1)]


def test_a_contributor_cannot_move_aliases_so_nothing_is_committed(api, registry) -> None:
    headers = as_user(api, "carol", "contributor", "ads/")
    uploaded = api.put(
        f"{API}/blobs/{digest_of(b'weights')}",
        content=b"weights",
        params={"model": NAME},
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    response = api.post(
        model_url(NAME, "versions"),
        json={"files": [entry("model.bin", b"weights")], "aliases": ["candidate"]},
        headers=headers,
    )
    assert_problem(response, 403, "FORBIDDEN")
    assert _version_count(registry) == 0
    # The same push without the alias is the contributor's to make.
    response = api.post(
        model_url(NAME, "versions"),
        json={"files": [entry("model.bin", b"weights")]},
        headers=headers,
    )
    assert assert_json(response, 201)["created_by"] == "carol"


def test_an_invalid_alias_refuses_the_whole_commit(api, registry) -> None:
    put_blob(api, b"weights")
    response = commit(api, NAME, [entry("model.bin", b"weights")], aliases=["Not Valid"])
    assert_problem(response, 400, "ALIAS_INVALID")
    assert _version_count(registry) == 0
    assert _actions(registry) == []


def test_a_failed_commit_appends_no_audit_record(api, registry) -> None:
    response = commit(api, NAME, [entry("model.bin", b"never uploaded")], aliases=["candidate"])
    assert_problem(response, 404, "BLOB_UNKNOWN")
    assert _actions(registry) == []
