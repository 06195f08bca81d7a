"""SQLite WAL checkpoints run beside the writers and keep the log bounded."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from modeldepot.db.checkpoint import COMMITS_PER_CHECKPOINT
from modeldepot.db.engine import Database, FairLock

rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("body", Text))


def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    rows.create(db.engine)
    return db


def test_writer_leaves_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        with db.write() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
        with db.read() as conn:  # other connections keep SQLite's default
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1000
    finally:
        db.dispose()


def test_checkpointer_turned_off_leaves_checkpoints_to_sqlite(tmp_path: Path) -> None:
    def checkpointers() -> int:
        return sum(t.name == "modeldepot-wal-checkpoint" for t in threading.enumerate())

    before = checkpointers()
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}", checkpointer=False)
    try:
        rows.create(db.engine)
        for _ in range(COMMITS_PER_CHECKPOINT + 1):
            with db.write() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1000
                conn.execute(insert(rows).values(body="x"))
        assert checkpointers() == before
    finally:
        db.dispose()


def test_log_stays_bounded_under_a_steady_stream_of_commits(tmp_path: Path) -> None:
    db = _database(tmp_path)
    wal = tmp_path / "wal.db-wal"
    body = "x" * 3000  # about one page per row
    commits = 40 * COMMITS_PER_CHECKPOINT
    try:
        for _ in range(commits):
            with db.write() as conn:
                conn.execute(insert(rows).values(body=body))
        checkpointer = db._checkpointer
        assert checkpointer is not None
        assert checkpointer.checkpoints >= 1 and checkpointer.restarts >= 1
        # Without restarts the log would hold every page written (over 1,280 pages);
        # restarted, it stays within a few checkpoint periods' worth.
        pages = wal.stat().st_size // 4120
        assert pages < commits // 2
    finally:
        db.dispose()
    check = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with check.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM rows").scalar_one() == commits
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    check.dispose()


def test_dispose_stops_the_checkpointer_thread(tmp_path: Path) -> None:
    db = _database(tmp_path)
    for _ in range(COMMITS_PER_CHECKPOINT):
        with db.write() as conn:
            conn.execute(insert(rows).values(body="x"))
    assert any(t.name == "modeldepot-wal-checkpoint" for t in threading.enumerate())
    db.dispose()
    assert not any(t.name == "modeldepot-wal-checkpoint" for t in threading.enumerate())


def test_try_acquire_takes_only_a_free_lock() -> None:
    lock = FairLock()
    assert lock.try_acquire()
    assert not lock.try_acquire()
    lock.release()
    with lock:
        assert not lock.try_acquire()
    assert lock.try_acquire()
    lock.release()
