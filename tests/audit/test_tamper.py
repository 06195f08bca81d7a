"""Tampering with the audit log straight in the database is detected and named.

Each test builds a chain of 12 records, checkpointed every 5 (records 5 and 10 are
signed), edits the database as someone holding its password would, and checks that
``verify`` names the first inconsistency: its seq and its kind.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update

from modeldepot.audit import chain
from modeldepot.audit.signing import PublicKey
from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.db.tables import audit_checkpoints, audit_head, audit_log
from modeldepot.registry import Registry
from tests.audit.helpers import append, checkpointing, rechain, row, tampering, verified


@pytest.fixture
def audited(db: Database, settings: ServerSettings) -> Registry:
    registry = checkpointing(db, settings)
    append(registry, 12)
    return registry


def assert_found(registry: Registry, seq: int, kind: str) -> None:
    result = verified(registry)
    assert not result.ok
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (seq, kind), result.problem


def test_an_untouched_chain_verifies_with_its_checkpoints(audited: Registry) -> None:
    result = verified(audited)
    assert result.ok, result.problem
    assert (result.records, result.last_seq, result.checkpoints) == (12, 12, 2)
    assert result.last_checkpoint == 10


def test_an_edited_body_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        body = row(conn, 3).record.replace('"i":2', '"i":99')
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(record=body))
    assert_found(audited, 3, "hash")


def test_an_edited_filter_column_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 4).values(principal="mallory"))
    assert_found(audited, 4, "column")


@pytest.mark.parametrize("column", ["at", "action", "target", "model"])
def test_every_filter_column_is_checked(audited: Registry, column: str) -> None:
    with tampering(audited) as conn:
        current = getattr(row(conn, 7), column)
        changed = {
            "at": lambda: current.replace(year=current.year - 1),
            "action": lambda: "alias.set",
            "target": lambda: "ads/other",
            "model": lambda: None,
        }[column]()
        conn.execute(update(audit_log).where(audit_log.c.seq == 7).values({column: changed}))
    assert_found(audited, 7, "column")


def test_a_deleted_record_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 6))
    assert_found(audited, 6, "missing")


def test_a_record_inserted_in_the_middle_is_named(audited: Registry) -> None:
    """Records 7… renumbered one up, a well-formed record linked to 6 put at 7: the
    record after it still says it is 7."""
    with tampering(audited) as conn:
        for seq in range(12, 6, -1):
            conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(seq=seq + 1))
        forged = {**json.loads(row(conn, 6).record), "seq": 7, "prev": row(conn, 6).hash}
        body = chain.canonical(forged)
        values = {c: v for c, v in row(conn, 6)._mapping.items() if c != "seq"}
        values.update(seq=7, record=body.decode(), hash=chain.digest(body))
        conn.execute(insert(audit_log).values(values))
    assert_found(audited, 8, "moved")


def test_a_record_appended_without_its_link_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        forged = {**json.loads(row(conn, 12).record), "seq": 13, "prev": chain.GENESIS}
        body = chain.canonical(forged)
        values = {c: v for c, v in row(conn, 12)._mapping.items() if c != "seq"}
        values.update(seq=13, record=body.decode(), hash=chain.digest(body))
        conn.execute(insert(audit_log).values(values))
        conn.execute(update(audit_head).values(seq=13, hash=chain.digest(body)))
    assert_found(audited, 13, "link")


def test_two_swapped_records_are_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        three, four = row(conn, 3), row(conn, 4)
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=-3))
        conn.execute(update(audit_log).where(audit_log.c.seq == 4).values(seq=3))
        conn.execute(update(audit_log).where(audit_log.c.seq == -3).values(seq=4))
    assert (three.seq, four.seq) == (3, 4)
    assert_found(audited, 3, "moved")


def test_a_chain_recomputed_after_an_edit_is_caught_by_its_checkpoint(audited: Registry) -> None:
    with tampering(audited) as conn:
        record = json.loads(row(conn, 3).record)
        record["after"] = {"i": 99}
        conn.execute(
            update(audit_log)
            .where(audit_log.c.seq == 3)
            .values(record=chain.canonical(record).decode())
        )
        rechain(conn, 3)
    assert_found(audited, 5, "checkpoint")


def test_a_tail_truncated_past_a_checkpoint_is_named(audited: Registry) -> None:
    """Records 9-12 removed and the head moved back to 8: checkpoint 10 still signs
    a record the log no longer holds."""
    with tampering(audited) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq >= 9))
        conn.execute(update(audit_head).values(seq=8, hash=row(conn, 8).hash))
    assert_found(audited, 10, "truncated")


def test_a_tail_truncated_under_the_head_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq >= 12))
    assert_found(audited, 12, "truncated")


def test_a_deleted_checkpoint_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq == 5))
    assert_found(audited, 5, "checkpoint-missing")


def test_a_checkpoint_signed_by_another_key_is_named(audited: Registry) -> None:
    other = Ed25519PrivateKey.generate()
    with tampering(audited) as conn:
        hash_ = row(conn, 10).hash
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.seq == 10)
            .values(
                key_id=PublicKey.of(other.public_key()).key_id,
                signature=other.sign(f"10:{hash_}".encode()).hex(),
            )
        )
    assert_found(audited, 10, "checkpoint")


def test_a_forged_signature_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.seq == 5)
            .values(signature="00" * 64)
        )
    assert_found(audited, 5, "checkpoint")


def test_a_head_that_disagrees_with_the_last_record_is_named(audited: Registry) -> None:
    with tampering(audited) as conn:
        conn.execute(update(audit_head).values(hash=chain.GENESIS))
    assert_found(audited, 12, "head")


def test_an_empty_log_verifies(db: Database, settings: ServerSettings) -> None:
    result = verified(checkpointing(db, settings))
    assert result.ok and result.records == 0 and result.last_seq == 0


def test_checkpoints_are_signed_in_the_appending_transaction(audited: Registry) -> None:
    with audited.db.read() as conn:
        rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq)).all()
        hashes = {r.seq: r.hash for r in conn.execute(select(audit_log.c.seq, audit_log.c.hash))}
    assert [r.seq for r in rows] == [5, 10]
    key = audited.audit.checkpointer.signer.public
    for r in rows:
        assert r.hash == hashes[r.seq] and r.key_id == key.key_id
        assert key.verifies(r.seq, r.hash, r.signature)
