"""Per-key FIFO queues: writers of one key take turns in arrival order; other keys
never wait; nothing is kept once nobody holds a key."""

from __future__ import annotations

import threading
import time

from modeldepot.db.queues import KeyedQueues


def test_holders_of_one_key_take_turns_in_arrival_order() -> None:
    queues = KeyedQueues()
    order: list[int] = []
    inside = 0
    most = 0
    guard = threading.Lock()

    def writer(n: int) -> None:
        nonlocal inside, most
        with queues.hold("ads/rec"):
            with guard:
                inside += 1
                most = max(most, inside)
            order.append(n)
            time.sleep(0.005)
            with guard:
                inside -= 1

    threads = []
    for n in range(8):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.002)  # arrive in order
    for thread in threads:
        thread.join()
    assert most == 1
    assert order == list(range(8))
    assert queues._locks == {}


def test_another_key_does_not_wait() -> None:
    queues = KeyedQueues()
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with queues.hold("ads/a"):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with queues.hold("ads/b"):
        pass
    assert time.monotonic() - started < 0.5
    release.set()
    thread.join()
