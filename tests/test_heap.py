"""The server's start-up heap: no collection while it starts, then frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from modeldepot.server.heap import collection_held, freeze_startup_heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()
    if not enabled:
        gc.disable()


def test_collection_is_off_while_starting_then_what_start_up_built_is_frozen(
    restored_collector: None,
) -> None:
    with collection_held():
        assert not gc.isenabled()
        built_at_startup = [[i] for i in range(1000)]
        frozen = freeze_startup_heap()
        assert gc.isenabled()
    assert gc.isenabled()
    # Frozen objects still die when their last reference goes: the count only falls.
    assert len(built_at_startup) <= gc.get_freeze_count() <= frozen
    # Collections now walk only what was created since, not the frozen objects.
    tracked = gc.get_objects()
    assert not any(obj is built_at_startup for obj in tracked)
    later = [[i] for i in range(10)]
    assert any(obj is later for obj in gc.get_objects())


def test_collection_is_on_again_when_start_up_fails(restored_collector: None) -> None:
    with pytest.raises(RuntimeError), collection_held():
        raise RuntimeError("refused to start")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_with_freezing_off_collection_comes_back_and_nothing_is_frozen(
    restored_collector: None,
) -> None:
    gc.unfreeze()
    with collection_held():
        built_at_startup = [[i] for i in range(1000)]
        assert freeze_startup_heap(freeze=False) == 0
        assert gc.isenabled()
    assert any(obj is built_at_startup for obj in gc.get_objects())
