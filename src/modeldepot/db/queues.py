"""Per-key FIFO queues for writers of one process: ``Database.queue(key)``.

Pushes to one model all wait on that model's version counter row until they commit.
On PostgreSQL, N requests of one server process for one model would otherwise run side
by side up to that row, and the one holding it then competes with the others for the
interpreter between its last statements and its commit, which stretches how long it
holds the row and gives the slowest requests a long tail. Queued here first, in arrival
order, they reach the row one at a time. SQLite needs none: its one writer at a time
already queues every write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from modeldepot.db.engine import FairLock


class KeyedQueues:
    """One FIFO lock per key, made on first use and dropped when nobody holds it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[FairLock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (FairLock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
