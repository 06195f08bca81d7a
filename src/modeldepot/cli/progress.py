"""Rich progress bars (bytes, rate, ETA) for push and pull, on stderr when it is a terminal."""

from __future__ import annotations

import sys
import threading
from typing import Any

LABELS = {"push": "pushing", "upload": "uploading", "download": "downloading"}


class RichProgress:
    """Implements ``modeldepot.client.progress.Progress`` with one bar per phase."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self._task: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def begin(self, phase: str, total: int) -> None:
        self._task = self._progress.add_task(LABELS.get(phase, phase), total=total or 1)
        if not total:
            self._progress.update(self._task, completed=1)

    def advance(self, n: int) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.advance(self._task, n)

    def end(self) -> None:
        self._task = None
