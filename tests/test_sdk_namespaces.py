"""The SDK pushes for a model namespace: content stored for a model its user cannot
read is sent (verified, linked, stored once) and then pulled like any other. Through
the SDK against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from modeldepot.client.client import Client
from modeldepot.security.context import Context
from modeldepot.security.roles import Role
from tests.conftest import make_model_dir

SHARED = b"weights another team pushed first" * 100


def test_a_push_sends_bytes_held_only_for_an_unreadable_model_and_pulls_them(
    client, live, registry, uploaded: list[str], tmp_path: Path
) -> None:
    client.push(make_model_dir(tmp_path / "secret", {"w.bin": SHARED}), "secret/model")
    assert uploaded == ["w.bin"]
    operator = Context.system("tests")
    registry.identity.create_principal(operator, "eve")
    registry.identity.grant(operator, "eve", "team", Role.CONTRIBUTOR)
    token = registry.identity.create_token(operator, "sdk", owner="eve").text
    source = make_model_dir(tmp_path / "mine", {"w.bin": SHARED, "own.bin": b"eve's"})
    with Client(live.url, cache_dir=tmp_path / "eve-cache", token=token) as eve:
        version = eve.push(source, "team/model")
        # Both were sent: the shared bytes are not eve's to read until she sends them.
        assert sorted(uploaded) == ["own.bin", "w.bin", "w.bin"]
        eve.pull(f"team/model:{version.number}", tmp_path / "out")
    assert (tmp_path / "out" / "w.bin").read_bytes() == SHARED
    stored = [b.digest for b in registry.store.iter_blobs()]
    assert len(stored) == len(set(stored)) == 2  # one file per digest
