"""Appending to the hash chain, inside the transaction that made the changes.

Each record is RFC 8785 canonical JSON holding the previous record's hash (``prev``);
its own hash is the SHA-256 of those bytes. The chain's head row is locked last, just
before commit, so on every replica sequence numbers follow commit order and the lock
is held only for the two statements and the commit that need it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import Connection, insert, text

from modeldepot.db.tables import audit_log

GENESIS = "0" * 64


def canonical(record: Mapping[str, Any]) -> bytes:
    return rfc8785.dumps(plain(record))


def plain(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 strings (microseconds, UTC offset) and
    tuples as lists: what canonical JSON can hold."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return value


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# One statement reserves ``n`` sequence numbers and returns the previous head; the
# row lock it takes is held until commit. PostgreSQL and SQLite (≥ 3.35) both RETURNING.
_RESERVE = text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash")
_SET_HASH = text("UPDATE audit_head SET hash = :hash WHERE id = 1")


def append(conn: Connection, entries: Sequence[Mapping[str, Any]]) -> int:
    """Append ``entries`` (records without ``seq`` and ``prev``) in order; return the
    sequence number of the last. Must be the last writes of the transaction."""
    row = conn.execute(_RESERVE, {"n": len(entries)}).one()
    seq = row.seq - len(entries)
    prev = row.hash
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
    conn.execute(insert(audit_log), rows)
    conn.execute(_SET_HASH, {"hash": prev})
    return seq
