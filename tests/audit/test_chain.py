"""The chain as appended: each record's hash is the SHA-256 of its canonical text,
which names its sequence number and the previous record's hash; PostgreSQL computes
it in the database, SQLite here, and both give the same bytes."""

from __future__ import annotations

import json

import sqlalchemy as sa

from modeldepot.audit.canonical import canonical
from modeldepot.audit.chain import GENESIS, digest
from modeldepot.db.tables import audit_head, audit_log
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


def rows(registry) -> list[sa.Row]:
    with registry.db.read() as conn:
        return conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()


def test_each_record_names_its_place_and_hashes_to_its_row(registry) -> None:
    ctx = Context.system("tester", client="10.0.0.1")
    tricky = {"prev": "p" * 64, "seq": 2**53 - 1, "note": 'quote " and \\ and ünïcode'}
    for n in range(3):
        with registry.units.write(ctx) as uow:
            uow.require(Permission.METADATA_EDIT, "ads/x")
            uow.record("group.create", f"group/g{n}", model="ads/x", after=tricky)
            if n == 2:
                uow.record("grant.delete", "grant/k", before={"k": "v"})
    found = rows(registry)
    assert [r.seq for r in found] == [1, 2, 3, 4]
    prev = GENESIS
    for row in found:
        record = json.loads(row.record)
        assert (record["seq"], record["prev"]) == (row.seq, prev)
        assert row.record.encode() == canonical(record)
        assert row.hash == digest(row.record.encode())
        assert (record["principal"], record["client"]) == ("tester", "10.0.0.1")
        prev = row.hash
    assert json.loads(found[0].record)["after"] == tricky
    with registry.db.read() as conn:
        head = conn.execute(sa.select(audit_head)).one()
    assert (head.seq, head.hash, head.prev_hash) == (4, found[-1].hash, found[-2].hash)


def test_a_unit_that_fails_appends_nothing(registry) -> None:
    ctx = Context.system("tester")
    try:
        with registry.units.write(ctx) as uow:
            uow.record("group.create", "group/x")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert rows(registry) == []
