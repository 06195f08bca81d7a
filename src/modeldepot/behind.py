"""``Behind``: run a step on each chunk of a stream in a helper thread, one chunk behind.

Hashing and file writes release the GIL on large buffers, so while a helper hashes or
writes chunk N the caller already receives chunk N+1: the stages overlap instead of
adding up. Steps run in the order given, one at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class Behind:
    """Calls ``step(chunk)`` in a helper thread, at most one call in flight. Not thread-safe."""

    def __init__(self, step: Callable[[bytes], object]) -> None:
        self._step = step
        self._pending: Future[object] | None = None

    def __call__(self, chunk: bytes) -> None:
        self.wait()
        self._pending = _pool().submit(self._step, chunk)

    def wait(self) -> None:
        """Return once every chunk given so far went through the step (re-raising its error)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="modeldepot-behind")
