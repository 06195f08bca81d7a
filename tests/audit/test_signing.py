"""The checkpoint key: created once, private to its owner, shared by replicas."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modeldepot.audit.signing import load_or_create, load_public
from modeldepot.config import ServerSettings
from modeldepot.errors import AuditKeyInvalid
from modeldepot.registry import Registry
from modeldepot.server.app import create_app


def test_the_key_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-signing.key"
    first = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create(path)
    assert again.key_id == first.key_id and len(first.key_id) == 16
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_signature_verifies_only_for_its_seq_and_hash(tmp_path: Path) -> None:
    signer = load_or_create(tmp_path / "k")
    signature = signer.sign(7, "ab" * 32)
    assert len(signature) == 128
    assert signer.public.verifies(7, "ab" * 32, signature)
    assert not signer.public.verifies(8, "ab" * 32, signature)
    assert not signer.public.verifies(7, "cd" * 32, signature)
    assert not signer.public.verifies(7, "ab" * 32, "zz")


def test_the_public_key_alone_verifies(tmp_path: Path) -> None:
    signer = load_or_create(tmp_path / "k")
    public_file = tmp_path / "k.pub"
    public_file.write_text(signer.public.pem())
    public = load_public(public_file)
    assert public.key_id == signer.key_id
    assert public.verifies(1, "00" * 32, signer.sign(1, "00" * 32))
    assert load_public(tmp_path / "k").key_id == signer.key_id


def test_a_file_holding_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("not a key\n")
    with pytest.raises(AuditKeyInvalid):
        load_or_create(path)
    with pytest.raises(AuditKeyInvalid):
        load_public(path)


def test_a_server_whose_key_file_is_not_a_key_does_not_start(
    registry: Registry, settings: ServerSettings
) -> None:
    """(``registry``: the database is emptied first, as the app will write to it.)"""
    settings.resolved_audit_key_file.parent.mkdir(parents=True, exist_ok=True)
    settings.resolved_audit_key_file.write_text("not a key\n")
    app = create_app(settings)
    with pytest.raises(AuditKeyInvalid), TestClient(app):
        pass


def test_a_server_creates_its_key_at_start(registry: Registry, settings: ServerSettings) -> None:
    assert not settings.resolved_audit_key_file.exists()
    with TestClient(create_app(settings)):
        assert stat.S_IMODE(settings.resolved_audit_key_file.stat().st_mode) == 0o600
