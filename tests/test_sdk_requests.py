"""Governance through the SDK against a real server: promote, inspect, apply, roll
back, checks and metrics; errors arrive as the same classes the services raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeldepot.errors import AliasProtected, CheckDigestMismatch, RequestClosed
from tests.conftest import make_model_dir

NAME = "risk/pd-model"


def test_promote_apply_and_roll_back(client, live, tmp_path: Path) -> None:
    for i in range(2):
        client.push(make_model_dir(tmp_path / f"v{i}", {"w.bin": b"w%d" % i}), NAME)
    with pytest.raises(AliasProtected):
        client.set_alias(NAME, "production", 1)
    first = client.promote(f"{NAME}:1", "production", reason="first release")
    assert (first.state, first.passed, first.missing) == ("approved", True, [])
    assert client.apply_request(first.id).state == "applied"
    second = client.promote(f"{NAME}:2", "production")
    assert second.diff is not None and second.diff["b"] == f"{NAME}:2"
    client.apply_request(second.id)
    assert client.resolve(f"{NAME}@production").number == 2
    back = client.rollback(NAME, "production", reason="regression")
    assert (back.kind, back.version, back.base_version) == ("rollback", 1, 2)
    client.comment_request(back.id, "paging the owner")
    client.apply_request(back.id)
    assert client.resolve(f"{NAME}@production").number == 1
    assert [r.id for r in client.requests(state="applied", model=NAME)] == [
        back.id,
        second.id,
        first.id,
    ]
    assert client.request(back.id).comments[0].body == "paging the owner"
    with pytest.raises(RequestClosed):
        client.cancel_request(back.id)


def test_checks_and_added_metrics(client, live, tmp_path: Path) -> None:
    client.push(make_model_dir(tmp_path / "v", {"w.bin": b"w"}), NAME, metrics={"auc": 0.9})
    posted = client.post_check(f"{NAME}:1", "bias-audit", "pass", url="https://ci/1")
    assert (posted.state, posted.version) == ("pass", 1)
    assert [c.name for c in client.checks(f"{NAME}@latest")] == ["bias-audit"]
    with pytest.raises(CheckDigestMismatch):
        client.post_check(f"{NAME}:1", "other", "pass", digest="sha256:" + "1" * 64)
    version = client.add_metrics(
        f"{NAME}:1", {"f1": 0.8}, slices=[{"name": "fpr", "value": 0.1, "slice": "age<30"}]
    )
    assert version.metrics == {"auc": 0.9, "f1": 0.8}
