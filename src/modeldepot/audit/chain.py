"""Appending to the hash chain, inside the transaction that made the changes.

Each record is RFC 8785 canonical JSON holding the previous record's hash (``prev``);
its own hash is the SHA-256 of those bytes. The chain's head row is locked last, just
before commit, so on every replica sequence numbers follow commit order and the lock
is held only for the three statements (reserve, insert, set the head's hash) and the
commit that need it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, update

from modeldepot.audit.canonical import canonical, plain
from modeldepot.db import hotpath
from modeldepot.db.prepared import Prepared
from modeldepot.db.tables import audit_head, audit_log

GENESIS = "0" * 64
__all__ = ["GENESIS", "append", "canonical", "digest", "plain"]


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# One statement reserves ``n`` sequence numbers and returns the new last one and the
# previous head's hash; the row lock it takes is held until commit.
_RESERVE = Prepared(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + bindparam("n"))
    .returning(audit_head.c.seq, audit_head.c.hash)
)
_SET_HASH = Prepared(
    update(audit_head).where(audit_head.c.id == 1).values(hash=bindparam("head_hash"))
)


def append(conn: Connection, entries: Sequence[Mapping[str, Any]]) -> int:
    """Append ``entries`` (records without ``seq`` and ``prev``) in order; return the
    sequence number of the last. Must be the last writes of the transaction."""
    last, prev = _RESERVE.execute(conn, {"n": len(entries)}).fetchone()
    seq = last - len(entries)
    rows = []
    for entry in entries:
        seq += 1
        record = {**entry, "seq": seq, "prev": prev}
        body = canonical(record)
        prev = digest(body)
        rows.append(
            {
                "seq": seq,
                "at": entry["at"],
                "principal": entry["principal"],
                "action": entry["action"],
                "target": entry["target"],
                "model": entry.get("model"),
                "record": body.decode(),
                "hash": prev,
            }
        )
    hotpath.insert_rows(conn, audit_log, rows)
    _SET_HASH.execute(conn, {"head_hash": prev})
    return seq
