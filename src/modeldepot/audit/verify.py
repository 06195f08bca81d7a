"""``audit verify``: walk the chain and its checkpoints; name the first inconsistency.

One read transaction (a snapshot: REPEATABLE READ on PostgreSQL, a WAL snapshot on
SQLite), so a registry that keeps appending while it runs never looks broken. Rows
stream in seq order through a server-side cursor in batches; each record's stored
bytes are hashed as they are (never re-canonicalised) and parsed once to check what
it says about its place in the chain and its filter columns.

What is checked, in seq order, and the ``kind`` of each finding:

* ``missing``: seq runs 1, 2, 3… with no gap;
* ``hash``: the SHA-256 of the stored body is the stored hash;
* ``body``: the body is a JSON object;
* ``moved``: the body's ``seq`` is the row's;
* ``link``: the body's ``prev`` is the previous record's hash (genesis: 64 zeros);
* ``column``: ``at``, ``principal``, ``action``, ``target``, ``model`` agree with it;
* ``checkpoint``: each checkpoint's hash is its record's, its key is known and its
  signature verifies; ``checkpoint-missing``: every multiple of ``every`` has one;
* ``truncated``: no checkpoint and no head point past the last record;
* ``head``: ``audit_head`` is the last record's seq and hash.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from modeldepot.audit.chain import GENESIS
from modeldepot.audit.signing import PublicKey
from modeldepot.db.engine import Database
from modeldepot.db.tables import audit_checkpoints, audit_head

BATCH = 20_000
_COLUMNS = ("principal", "action", "target", "model")


def _named(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record.get("principal"),
        record.get("action"),
        record.get("target"),
        record.get("model"),
    )


@dataclass(frozen=True, slots=True)
class Finding:
    """The first inconsistency: the record (or checkpoint) ``seq``, and what is wrong."""

    seq: int
    kind: str
    detail: str


@dataclass(slots=True)
class Verification:
    ok: bool = True
    records: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    checkpoints: int = 0
    last_checkpoint: int | None = None
    key_ids: list[str] = field(default_factory=list)
    problem: Finding | None = None
    seconds: float = 0.0


class _Broken(Exception):
    def __init__(self, seq: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.finding = Finding(seq, kind, detail)


def verify(db: Database, keys: Iterable[PublicKey], *, every: int = 0) -> Verification:
    """Verify the whole chain of ``db`` with the public ``keys``; ``every`` > 0 also
    requires a checkpoint at each multiple of it (``MODELDEPOT_AUDIT_CHECKPOINT_RECORDS``)."""
    started = time.perf_counter()
    known = {key.key_id: key for key in keys}
    result = Verification(key_ids=sorted(known))
    with _snapshot(db) as conn:
        try:
            _walk(conn, known, every, result)
        except _Broken as broken:
            result.ok = False
            result.problem = broken.finding
    result.seconds = round(time.perf_counter() - started, 3)
    return result


class _snapshot:
    """A read-only connection that sees one snapshot for all its statements."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> Connection:
        conn = self.db.engine.connect()
        if not self.db.is_sqlite:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        self.conn = conn
        conn.begin()
        return conn

    def __exit__(self, *exc: object) -> None:
        self.conn.rollback()
        self.conn.close()


def _walk(conn: Connection, known: dict[str, PublicKey], every: int, result: Verification) -> None:
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    checkpoints = conn.execute(
        select(
            audit_checkpoints.c.seq,
            audit_checkpoints.c.hash,
            audit_checkpoints.c.key_id,
            audit_checkpoints.c.signature,
        ).order_by(audit_checkpoints.c.seq)
    ).all()
    pending = iter(checkpoints)
    checkpoint = next(pending, None)
    seq = 0
    prev = GENESIS
    for row in _rows(conn):
        expected = seq + 1
        seq = row[0]
        if seq != expected:
            raise _Broken(
                expected, "missing", f"record {expected} is missing (the log jumps to {seq})"
            )
        body = row[6]
        digest = hashlib.sha256(body.encode()).hexdigest()
        if digest != row[7]:
            raise _Broken(seq, "hash", f"record {seq}: its body does not hash to its stored hash")
        record = _parse(seq, body)
        if record.get("seq") != seq:
            raise _Broken(
                seq,
                "moved",
                f"record {seq}: its body says seq {record.get('seq')!r} "
                "(records were moved or swapped)",
            )
        if record.get("prev") != prev:
            raise _Broken(
                seq,
                "link",
                f"record {seq}: its prev is not the hash of record {seq - 1} "
                "(a record before it was changed, removed or inserted)",
            )
        if (row[2], row[3], row[4], row[5]) != _named(record) or record.get("at") != _at_text(
            row[1]
        ):
            _check_columns(seq, row, record)
        prev = digest
        # Seq has no gap up to here, so a checkpoint at or below it is this record's
        # (one below it would be a forged row, and fails on the hash).
        while checkpoint is not None and checkpoint.seq <= seq:
            _check_checkpoint(checkpoint, digest, known)
            result.checkpoints += 1
            result.last_checkpoint = checkpoint.seq
            checkpoint = next(pending, None)
        if every > 0 and seq % every == 0 and result.last_checkpoint != seq:
            raise _Broken(
                seq,
                "checkpoint-missing",
                f"record {seq} has no checkpoint (one is signed every {every} records): "
                "checkpoints were deleted",
            )
        result.records += 1
    result.last_seq = seq
    result.last_hash = prev
    if head.seq > seq:
        raise _Broken(
            seq + 1,
            "truncated",
            f"the log ends at record {seq} but its head says {head.seq}: "
            "records were removed from its end",
        )
    if checkpoint is not None:
        raise _Broken(
            checkpoint.seq,
            "truncated",
            f"checkpoint {checkpoint.seq} signs a record the log no longer holds "
            f"(it ends at {seq}): records were removed from its end",
        )
    if head.seq != seq or head.hash != prev:
        raise _Broken(
            head.seq,
            "head",
            f"the head says record {head.seq} with hash {head.hash[:12]}…, "
            f"the log ends at {seq} with {prev[:12]}…",
        )


def _rows(conn: Connection) -> Iterator[Any]:
    # Plain SQL on the driver's rows: no per-row type conversion (``at`` comes as the
    # driver gives it, see ``_at_text``), which is a third of the time otherwise.
    query = (
        "SELECT seq, at, principal, action, target, model, record, hash FROM audit_log ORDER BY seq"
    )
    result = conn.execution_options(stream_results=True, max_row_buffer=BATCH).exec_driver_sql(
        query
    )
    for partition in result.partitions(BATCH):
        yield from partition


# ``raw_decode`` of one decoder: ``json.loads`` adds two Python calls per record.
_decode = json.JSONDecoder().raw_decode


def _parse(seq: int, body: str) -> dict[str, Any]:
    try:
        record, end = _decode(body)
    except ValueError:
        record, end = None, 0
    if not isinstance(record, dict) or end != len(body):
        raise _Broken(seq, "body", f"record {seq}: its body is not a JSON object")
    return record


def _at_text(value: Any) -> str:
    """The ``at`` column as the record writes it (ISO 8601, microseconds, +00:00).
    SQLite's driver gives the stored text (``2026-01-01 10:00:00.000000``), PostgreSQL's
    a datetime without zone; both hold UTC."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:]}+00:00"
    return f"{value.isoformat(timespec='microseconds')}+00:00"


def _check_columns(seq: int, row: Any, record: dict[str, Any]) -> None:
    for index, name in enumerate(_COLUMNS, start=2):
        if row[index] != record.get(name):
            raise _Broken(
                seq, "column", f"record {seq}: column {name} differs from what the record says"
            )
    at = record.get("at")
    if at == _at_text(row[1]):
        return
    # Not the usual spelling: compare the instants themselves before calling it wrong.
    try:
        column = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(row[1])
        same = isinstance(at, str) and datetime.fromisoformat(at) == column.replace(tzinfo=UTC)
    except (ValueError, TypeError):
        same = False
    if not same:
        raise _Broken(seq, "column", f"record {seq}: column at differs from what the record says")


def _check_checkpoint(checkpoint: Any, digest: str, known: dict[str, PublicKey]) -> None:
    seq = checkpoint.seq
    if checkpoint.hash != digest:
        raise _Broken(
            seq,
            "checkpoint",
            f"checkpoint {seq}: the signed hash is not record {seq}'s (the chain was rewritten)",
        )
    key = known.get(checkpoint.key_id)
    if key is None:
        raise _Broken(
            seq,
            "checkpoint",
            f"checkpoint {seq}: signed by key {checkpoint.key_id}, which is not among the "
            "keys given",
        )
    if not key.verifies(seq, checkpoint.hash, checkpoint.signature):
        raise _Broken(seq, "checkpoint", f"checkpoint {seq}: its signature does not verify")
