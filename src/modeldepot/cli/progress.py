"""Rich progress bars for push and pull, on stderr when it is a terminal.

A bar covers every byte of the phase, and says how many of them actually moved and how
many were already where they had to be (on the server for a push, in the local cache
for a pull): ``pushing ━━━ 4.8/4.8 MiB 1.2 MiB/s 0:00:00 sent 14 B, 4.8 MiB already
on the server``. Rate and time left count only the bytes that moved.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

from modeldepot.cli.common import human_size

LABELS = {"push": "pushing", "upload": "uploading", "download": "downloading"}
# What moving a byte is called in each phase, and where a byte that need not move was.
MOVED = {"push": "sent", "upload": "sent", "download": "received"}
FOUND = {"push": "already on the server", "download": "from the cache"}


class RichProgress:
    """Implements ``modeldepot.client.progress.Progress`` with one bar per phase, and
    keeps the totals of the command for its final line (``moved``, ``found``)."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(bar_width=20),  # room for what moved and what did not
            DownloadColumn(binary_units=True),
            _RateColumn(),
            _TimeLeftColumn(),
            _MovedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self._task: Any = None
        self._phase = ""
        self._lock = threading.Lock()
        # Over the whole command: bytes that went over the network, and bytes that
        # need not (already on the server, or in the cache).
        self.moved = 0
        self.found = 0
        self._phase_moved = 0
        self._phase_found = 0

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def begin(self, phase: str, total: int) -> None:
        with self._lock:
            self._phase = phase
            self._phase_moved = self._phase_found = 0
            self._task = self._progress.add_task(
                LABELS.get(phase, phase),
                total=total,
                moved=0,
                found=0,
                verb=MOVED.get(phase, "moved"),
                place=FOUND.get(phase, "already there"),
                started=time.monotonic(),
            )

    def advance(self, n: int) -> None:
        with self._lock:
            self.moved += n
            self._phase_moved += n
            if self._task is not None:
                self._progress.update(self._task, advance=n, moved=self._phase_moved)

    def skip(self, n: int) -> None:
        with self._lock:
            self.found += n
            self._phase_found += n
            if self._task is not None:
                self._progress.update(self._task, advance=n, found=self._phase_found)

    def end(self) -> None:
        with self._lock:
            self._task = None

    def summary(self, phase: str) -> str:
        """The command's totals in words: ``sent 14 B, 4.8 MiB already on the server``."""
        text = f"{MOVED.get(phase, 'moved')} {human_size(self.moved)}"
        if self.found:
            text += f", {human_size(self.found)} {FOUND.get(phase, 'already there')}"
        return text


def _rate(task: Task) -> float | None:
    """Bytes moved per second since the phase began (skipped bytes do not count)."""
    elapsed = time.monotonic() - task.fields["started"]
    moved = task.fields["moved"]
    if moved <= 0 or elapsed <= 0:
        return None
    return float(moved / elapsed)


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = _rate(task)
        return Text("?" if rate is None else f"{human_size(int(rate))}/s")


class _TimeLeftColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        left = (task.total or 0) - task.completed
        rate = _rate(task)
        if left <= 0:
            return Text("0:00:00")
        if rate is None:
            return Text("-:--:--")
        seconds = int(left / rate)
        return Text(f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}")


class _MovedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        text = f"{task.fields['verb']} {human_size(task.fields['moved'])}"
        if task.fields["found"]:
            text += f", {human_size(task.fields['found'])} {task.fields['place']}"
        return Text(text)
