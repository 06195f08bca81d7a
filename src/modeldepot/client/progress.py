"""Progress reporting for transfers; the CLI supplies a Rich implementation."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives byte counts from transfers. ``advance`` may be called from many threads."""

    def begin(self, phase: str, total: int) -> None:
        """A phase of ``total`` bytes starts: ``push`` (every byte of the files pushed;
        a file the server already holds counts as done once hashed), ``upload`` (blobs
        sent again after a commit found one collected) or ``download``."""

    def advance(self, n: int) -> None:
        """``n`` more bytes are done (negative when a retry sends bytes again)."""

    def end(self) -> None:
        """The current phase is over."""


class NoProgress:
    def begin(self, phase: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def end(self) -> None:
        pass
