"""The server's start-up heap: collection held while it starts, then frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from modeldepot.server.heap import freeze_startup_heap, hold_collection


@pytest.fixture
def restored_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_collection_is_held_then_everything_alive_is_frozen(restored_collector: None) -> None:
    hold_collection()
    assert not gc.isenabled()
    built_at_startup = [{"route": i} for i in range(1000)]
    frozen = freeze_startup_heap()
    assert gc.isenabled()
    assert frozen == gc.get_freeze_count() >= len(built_at_startup)
    # A full pass now walks only what was created since, not the frozen objects.
    assert not any(obj is built_at_startup for obj in gc.get_objects(generation=2))
    later = [{"request": i} for i in range(10)]
    gc.collect()
    assert any(obj is later for obj in gc.get_objects(generation=2))
