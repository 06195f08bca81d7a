"""Overlap the stages of a byte stream: reading, sending, writing, hashing.

Hashing and file I/O release the GIL on large buffers, so while a helper thread reads,
hashes or writes one chunk, the caller already works on the next: the stages overlap
instead of adding up.

* ``Behind(step)``: run ``step`` on each chunk in a helper, one chunk behind the caller.
* ``read_ahead(fileobj, size)``: chunks of a file, the next one read while the caller
  uses the current one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

Chunk = bytes | bytearray | memoryview


class Behind:
    """Calls ``step(chunk)`` in a helper thread, at most one call in flight. Not thread-safe."""

    def __init__(self, step: Callable[[Chunk], object]) -> None:
        self._step = step
        self._pending: Future[object] | None = None

    def __call__(self, chunk: Chunk) -> None:
        self.wait()
        self._pending = _pool().submit(self._step, chunk)

    def wait(self) -> None:
        """Return once every chunk given so far went through the step (re-raising its error)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


def read_ahead(fileobj: BinaryIO, size: int) -> Iterator[bytes]:
    """Chunks of ``size`` bytes from ``fileobj``'s position to its end, read one ahead."""
    ahead = _pool().submit(fileobj.read, size)
    try:
        while chunk := ahead.result():
            ahead = _pool().submit(fileobj.read, size)
            yield chunk
    finally:
        with contextlib.suppress(Exception):
            ahead.result()  # the file must not be closed under a pending read


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="modeldepot-behind")
