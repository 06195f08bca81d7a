"""The SQLite writer queue: a lock granted in arrival order."""

from __future__ import annotations

import threading
import time

from modeldepot.db.engine import FairLock


def test_fair_lock_is_granted_in_arrival_order() -> None:
    lock = FairLock()
    order: list[int] = []
    lock.__enter__()
    threads = []
    for i in range(6):
        thread = threading.Thread(target=_take, args=(lock, order, i))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while len(lock._waiters) <= i:  # wait until this one queues before starting the next
            assert time.monotonic() < deadline
            time.sleep(0.001)
    lock.__exit__()
    for thread in threads:
        thread.join(5)
    assert order == list(range(6))


def test_fair_lock_is_free_again_after_every_holder_left() -> None:
    lock = FairLock()
    with lock:
        pass
    with lock:
        assert lock._held
    assert not lock._held and not lock._waiters


def _take(lock: FairLock, order: list[int], i: int) -> None:
    with lock:
        order.append(i)
