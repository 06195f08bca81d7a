"""Progress reporting for transfers; the CLI supplies a Rich implementation."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives byte counts from transfers. ``advance`` and ``skip`` may be called from
    many threads."""

    def begin(self, phase: str, total: int) -> None:
        """A phase of ``total`` bytes starts: ``push`` (every byte of the files pushed),
        ``upload`` (blobs sent again after a commit found one collected) or
        ``download`` (every blob of the version)."""

    def advance(self, n: int) -> None:
        """``n`` more bytes went over the network (negative when a retry sends bytes
        again)."""

    def skip(self, n: int) -> None:
        """``n`` bytes of the phase need not move: the server already holds them (a
        push), or the local cache does (a pull)."""

    def end(self) -> None:
        """The current phase is over."""


class NoProgress:
    def begin(self, phase: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def skip(self, n: int) -> None:
        pass

    def end(self) -> None:
        pass
