"""Appending to the hash chain, inside the transaction that made the changes.

Each record is RFC 8785 canonical JSON holding its sequence number (``seq``) and the
previous record's hash (``prev``); its own hash is the SHA-256 of those bytes. The
chain's head row (``audit_head``) is locked by the append, the last writes of the
transaction, so on every replica sequence numbers follow commit order.

That lock is held until the commit, so what runs under it bounds how many writes per
second the whole registry commits. Everything that does not depend on the previous
record is prepared before taking it: the record is canonicalised with placeholders for
``seq`` and ``prev`` and split around them. On PostgreSQL one statement then takes the
lock, computes the hash in the database (``sha256``) and inserts the record: one round
trip per record. SQLite has one writer at a time and no round trips; there the hash is
computed here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, text, update

from modeldepot.audit.canonical import canonical, plain
from modeldepot.db import hotpath
from modeldepot.db.prepared import Prepared
from modeldepot.db.tables import audit_head, audit_log
from modeldepot.db.types import UTCDateTime

GENESIS = "0" * 64
__all__ = ["GENESIS", "append", "canonical", "digest", "plain"]

# Placeholders the prepared record carries where ``prev`` and ``seq`` go. Only string
# and integer fields follow those two keys in canonical (sorted) order, and no string
# can hold an unescaped quote, so their last occurrences are the record's own.
_PREV = "p" * 64
_SEQ = 2**53 - 1
_PREV_FIELD = f'"prev":"{_PREV}"'
_SEQ_FIELD = f'"seq":{_SEQ}'


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A record's canonical text split around its ``prev`` and ``seq`` values:
    ``head + prev + middle + str(seq) + tail``."""

    head: str
    middle: str
    tail: str
    columns: Mapping[str, Any]

    def body(self, seq: int, prev: str) -> str:
        return f"{self.head}{prev}{self.middle}{seq}{self.tail}"


def prepare(entry: Mapping[str, Any]) -> PreparedRecord:
    text_ = canonical({**entry, "seq": _SEQ, "prev": _PREV}).decode()
    prev_at = text_.rindex(_PREV_FIELD) + len('"prev":"')
    seq_at = text_.rindex(_SEQ_FIELD) + len('"seq":')
    return PreparedRecord(
        head=text_[:prev_at],
        middle=text_[prev_at + len(_PREV) : seq_at],
        tail=text_[seq_at + len(str(_SEQ)) :],
        columns={
            "at": entry["at"],
            "principal": entry["principal"],
            "action": entry["action"],
            "target": entry["target"],
            "model": entry.get("model"),
        },
    )


def append(conn: Connection, entries: Sequence[Mapping[str, Any]]) -> int:
    """Append ``entries`` (records without ``seq`` and ``prev``) in order; return the
    sequence number of the last. Must be the last writes of the transaction."""
    records = [prepare(entry) for entry in entries]
    if conn.dialect.name == "postgresql":
        seq = 0
        for record in records:
            seq = _APPEND_PG.execute(
                conn,
                {
                    **record.columns,
                    "head": record.head,
                    "middle": record.middle,
                    "tail": record.tail,
                },
            ).fetchone()[0]
        return int(seq)
    return _append_here(conn, records)


def _append_here(conn: Connection, records: Sequence[PreparedRecord]) -> int:
    last, prev = _RESERVE.execute(conn, {"n": len(records)}).fetchone()
    seq = last - len(records)
    rows = []
    for record in records:
        seq += 1
        body = record.body(seq, prev)
        before, prev = prev, digest(body.encode())
        rows.append({**record.columns, "seq": seq, "record": body, "hash": prev})
    hotpath.insert_rows(conn, audit_log, rows)
    _SET_HASH.execute(conn, {"head_hash": prev, "prev_hash": before})
    return seq


# SQLite: one statement reserves the sequence numbers and returns the new last one and
# the previous head's hash; the head's hash is set once the records are written.
_RESERVE = Prepared(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + bindparam("n"))
    .returning(audit_head.c.seq, audit_head.c.hash)
)
_SET_HASH = Prepared(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(hash=bindparam("head_hash"), prev_hash=bindparam("prev_hash"))
)

# PostgreSQL: lock the head, compute the record's hash from the previous one, move the
# head and insert the record, in one statement. In SET, ``seq`` and ``hash`` are the
# head's values before the update; RETURNING gives those after it, and ``prev_hash``
# keeps the previous hash for the INSERT to write into the record's text.
_APPEND_PG = Prepared(
    text(
        """
        WITH moved AS (
            UPDATE audit_head
            SET seq = seq + 1,
                prev_hash = hash,
                hash = encode(sha256(convert_to(
                    :head || hash || :middle || (seq + 1)::text || :tail, 'UTF8')), 'hex')
            WHERE id = 1
            RETURNING seq, prev_hash, hash
        )
        INSERT INTO audit_log (seq, at, principal, action, target, model, record, hash)
        SELECT moved.seq, :at, :principal, :action, :target, :model,
               :head || moved.prev_hash || :middle || moved.seq::text || :tail, moved.hash
        FROM moved
        RETURNING seq
        """
    ).bindparams(bindparam("at", type_=UTCDateTime()))
)
