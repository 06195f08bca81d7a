"""``Behind`` runs a step one chunk behind the caller, in order, and reports failures."""

from __future__ import annotations

import threading
import time

import pytest

from modeldepot.overlap import Behind


def test_steps_run_in_the_order_given() -> None:
    seen: list[bytes] = []

    def slow_append(chunk: bytes) -> None:
        time.sleep(0.001 * (chunk[0] % 3))
        seen.append(chunk)

    behind = Behind(slow_append)
    chunks = [bytes([i]) for i in range(50)]
    for chunk in chunks:
        behind(chunk)
    behind.wait()
    assert seen == chunks


def test_at_most_one_step_is_in_flight() -> None:
    running = 0
    most = 0
    guard = threading.Lock()

    def step(_: bytes) -> None:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        time.sleep(0.002)
        with guard:
            running -= 1

    behind = Behind(step)
    for _ in range(20):
        behind(b"x")
    behind.wait()
    assert most == 1


def test_a_failing_step_is_reported_to_the_caller() -> None:
    def step(chunk: bytes) -> None:
        if chunk == b"bad":
            raise OSError("disk full")

    behind = Behind(step)
    behind(b"good")
    behind(b"bad")
    with pytest.raises(OSError, match="disk full"):
        behind.wait()
    behind.wait()  # reported once; the helper is free again
