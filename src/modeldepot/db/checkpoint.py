"""SQLite WAL checkpoints taken beside the writers instead of by one of them.

By default SQLite checkpoints on the commit that grows the write-ahead log past 1,000
pages: that writer copies the log back into the database and fsyncs twice (5 to 25 ms on
a virtual disk) while every other writer waits behind it. A version create writes
about 30 pages, so that stall came every 30-odd creates.

Here the writer's automatic checkpoints are off and a thread checkpoints instead, in
two steps. First passively, while writers go on: the long part, copying pages and
fsyncing, overlaps their work. Then, taking one turn in the writers' queue so nothing
is appended meanwhile, it copies the few pages written during the first step. The log
is then wholly in the database, so the next writer starts it again from its beginning
instead of growing it: the log stays bounded under a sustained write load.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("modeldepot.db")

COMMITS_PER_CHECKPOINT = 32
# The second step waits this long for a moment no writer holds the lock (between two
# requests), then queues for its turn like a writer.
TURN_PATIENCE = 0.002


class WriterTurn(Protocol):
    """The writers' lock (``FairLock``)."""

    def __enter__(self) -> object: ...
    def __exit__(self, *exc: object) -> None: ...
    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...


class WalCheckpointer:
    """Checkpoints after every ``every`` commits reported by ``committed()``.

    ``connect`` opens the connection the checkpoints run on (autocommit);
    ``writer_turn`` is the writers' lock, held for the short second step.
    The thread starts on the first commit, so a database that is only read has none.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        writer_turn: WriterTurn,
        *,
        every: int = COMMITS_PER_CHECKPOINT,
    ) -> None:
        self._connect = connect
        self._writer_turn = writer_turn
        self._every = every
        self._commits = 0
        self._due = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        self.restarts = 0

    def committed(self) -> None:
        """Count one commit; called by the writer, cheap."""
        with self._due:
            self._commits += 1
            if self._commits >= self._every:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(
                        target=self._run, name="modeldepot-wal-checkpoint", daemon=True
                    )
                    self._thread.start()
                self._due.notify()

    def close(self) -> None:
        """Stop the thread after any checkpoint in progress."""
        with self._due:
            self._closed = True
            self._due.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                with self._due:
                    while self._commits < self._every and not self._closed:
                        self._due.wait()
                    if self._closed:
                        return
                    self._commits = 0
                try:
                    self._checkpoint(conn)
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; the next one retries")
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        _passive_checkpoint(conn)
        self.checkpoints += 1
        self._take_turn()
        try:
            _passive_checkpoint(conn)
        finally:
            self._writer_turn.release()
        self.restarts += 1

    def _take_turn(self) -> None:
        """Hold the writers' lock: when it next falls free between two writers if that
        comes soon, else by queueing for it."""
        deadline = time.monotonic() + TURN_PATIENCE
        while not self._writer_turn.try_acquire():
            if time.monotonic() > deadline:
                self._writer_turn.__enter__()
                return
            time.sleep(0.0002)


def _passive_checkpoint(conn: sqlite3.Connection) -> int:
    """Copy what the log holds that no reader still needs; return the log's pages."""
    _busy, pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(pages)
