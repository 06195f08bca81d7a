"""Signed checkpoints of the chain: every N records, and every T seconds while it grows.

* ``after_append`` is a hook of the unit of work (``Units.append_hooks``): when an
  appending transaction's records cross a multiple of ``every``, the record at that
  multiple is signed in the same transaction, so a committed multiple always has its
  checkpoint and ``audit verify`` can insist on it.
* ``checkpoint_head`` signs the head when no checkpoint covers it yet; the server runs
  it every ``MODELDEPOT_AUDIT_CHECKPOINT_SECONDS``.

``seq`` is the primary key of ``audit_checkpoints`` and every insert is "if absent", so
replicas never conflict: signing the same record twice is one row.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, func, select

from modeldepot.audit.signing import Signer, load_or_create
from modeldepot.db.engine import Database, upsert
from modeldepot.db.tables import audit_checkpoints, audit_head, audit_log
from modeldepot.db.types import utcnow


class Checkpointer:
    def __init__(self, db: Database, key_file: Path, *, every: int) -> None:
        self.db = db
        self.key_file = key_file
        self.every = every
        self._signer: Signer | None = None
        self._lock = threading.Lock()

    @property
    def signer(self) -> Signer:
        """The signing key, read (or created, mode 0600) on first use."""
        if self._signer is None:
            with self._lock:
                if self._signer is None:
                    self._signer = load_or_create(self.key_file)
        return self._signer

    def after_append(self, conn: Connection, first: int, last: int) -> None:
        """Sign the highest multiple of ``every`` among ``first``..``last``, if any."""
        if self.every <= 0:
            return
        mark = last // self.every * self.every
        if mark < first:
            return
        hash_ = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == mark)).scalar_one()
        self._insert(conn, mark, hash_, utcnow())

    def checkpoint_head(self) -> int | None:
        """Sign the chain's head unless a checkpoint already covers it; return the
        sequence number signed, or None when there was nothing new."""
        with self.db.read() as conn:
            head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
            latest = conn.execute(select(func.max(audit_checkpoints.c.seq))).scalar()
        if head.seq == 0 or (latest is not None and latest >= head.seq):
            return None
        with self.db.write() as conn:
            self._insert(conn, head.seq, head.hash, utcnow())
        return int(head.seq)

    def _insert(self, conn: Connection, seq: int, hash_: str, at: datetime) -> None:
        signer = self.signer
        statement = (
            upsert(conn, audit_checkpoints)
            .values(
                seq=seq,
                hash=hash_,
                at=at,
                key_id=signer.key_id,
                signature=signer.sign(seq, hash_),
            )
            .on_conflict_do_nothing(index_elements=["seq"])
        )
        conn.execute(statement)
