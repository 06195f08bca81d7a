"""Several replicas (registries on separate engines of one database) append at once."""

from __future__ import annotations

import threading

from sqlalchemy import select

from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.db.tables import audit_checkpoints, audit_log
from tests.audit.helpers import EVERY, append, checkpointing, verified


def test_two_replicas_appending_at_once_make_one_contiguous_valid_chain(
    db: Database, settings: ServerSettings, database_url: str
) -> None:
    other_db = Database(database_url)
    try:
        replicas = [checkpointing(db, settings), checkpointing(other_db, settings)]
        per_thread = 40
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                barrier.wait()
                append(replicas[index % 2], per_thread, who=f"r{index}", start=index * 1000)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == []
        with db.read() as conn:
            seqs = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars().all()
            signed = conn.execute(select(audit_checkpoints.c.seq)).scalars().all()
        assert seqs == list(range(1, 4 * per_thread + 1))
        assert sorted(signed) == list(range(EVERY, 4 * per_thread + 1, EVERY))
        result = verified(replicas[1])
        assert result.ok, result.problem
        assert result.records == 4 * per_thread
    finally:
        other_db.dispose()


def test_replicas_signing_the_head_at_once_store_one_checkpoint(
    db: Database, settings: ServerSettings, database_url: str
) -> None:
    other_db = Database(database_url)
    try:
        replicas = [checkpointing(db, settings), checkpointing(other_db, settings)]
        append(replicas[0], 3)
        signed: list[int | None] = []
        barrier = threading.Barrier(2)

        def sign(index: int) -> None:
            barrier.wait()
            signed.append(replicas[index].audit.checkpoint())

        threads = [threading.Thread(target=sign, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert 3 in signed
        with db.read() as conn:
            assert conn.execute(select(audit_checkpoints.c.seq)).scalars().all() == [3]
        assert replicas[0].audit.checkpoint() is None  # nothing new since
        append(replicas[1], 1)
        assert replicas[0].audit.checkpoint() == 4
        assert verified(replicas[0]).ok
    finally:
        other_db.dispose()
