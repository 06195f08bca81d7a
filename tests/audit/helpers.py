"""Helpers of the audit tests: a registry that checkpoints every few records, records
appended through the unit of work, and direct edits of the database (the tampering)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select, update

from modeldepot.audit import chain
from modeldepot.audit.verify import Verification, verify
from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.db.tables import audit_head, audit_log
from modeldepot.registry import Registry
from modeldepot.security.context import Context

EVERY = 5


def checkpointing(db: Database, settings: ServerSettings, every: int = EVERY) -> Registry:
    """A registry on ``db`` that signs a checkpoint every ``every`` records (and never
    on a timer)."""
    settings = dataclasses.replace(
        settings, audit_checkpoint_records=every, audit_checkpoint_seconds=0
    )
    return Registry(db, LocalBlobStore(settings.blob_dir, fsync=False), settings)


def append(registry: Registry, count: int, *, who: str = "alice", start: int = 0) -> None:
    """``count`` records, one unit of work each, about three models of ``ads/``."""
    ctx = Context.system(who)
    for i in range(start, start + count):
        with registry.units.write(ctx) as uow:
            uow.record(
                "relation.create",
                f"ads/m{i % 3}",
                model=f"ads/m{i % 3}",
                before=None,
                after={"i": i},
            )


def verified(registry: Registry) -> Verification:
    checkpointer = registry.audit.checkpointer
    return verify(registry.db, [checkpointer.signer.public], every=checkpointer.every)


@contextmanager
def tampering(registry: Registry) -> Iterator[Connection]:
    """A write transaction straight on the database, as an attacker with its password."""
    with registry.db.write() as conn:
        yield conn


def row(conn: Connection, seq: int) -> Any:
    return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()


def rechain(conn: Connection, start: int) -> None:
    """Recompute every record's prev and hash from ``start`` on, and the head, as
    someone covering an edit would."""
    prev = row(conn, start - 1).hash if start > 1 else chain.GENESIS
    rows = conn.execute(
        select(audit_log.c.seq, audit_log.c.record)
        .where(audit_log.c.seq >= start)
        .order_by(audit_log.c.seq)
    ).all()
    for seq, body in rows:
        record = json.loads(body)
        record["prev"] = prev
        text = chain.canonical(record)
        prev = chain.digest(text)
        conn.execute(
            update(audit_log).where(audit_log.c.seq == seq).values(record=text.decode(), hash=prev)
        )
    conn.execute(update(audit_head).values(seq=rows[-1][0], hash=prev))
