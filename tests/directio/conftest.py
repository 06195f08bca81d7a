"""Fixtures of the ``modeldepot.directio`` tests."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from modeldepot import directio
from tests.directio.support import READ_SIZE, MiB, payload, write_file


@pytest.fixture
def direct_opens(monkeypatch):
    """The paths ``directio`` opens with O_DIRECT from now on."""
    real_open = os.open
    opened: list[object] = []

    def recording_open(path, flags, *args, **kwargs):
        if flags & os.O_DIRECT:
            opened.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(directio.os, "open", recording_open)
    return opened


@pytest.fixture
def empty_pool(monkeypatch) -> list:
    """The pool of spare buffers, emptied: every buffer taken is a fresh one."""
    pool: list = []
    monkeypatch.setattr(directio, "_spare", pool)
    return pool


@pytest.fixture
def no_o_direct(monkeypatch) -> list[int]:
    """``os.open`` answers EINVAL to ``O_DIRECT``, as FUSE and some network filesystems
    do; returns the flags of every refused call."""
    real_open = os.open
    refused: list[int] = []

    def refusing_open(path, flags, *args, **kwargs):
        if flags & os.O_DIRECT:
            refused.append(flags)
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(directio.os, "open", refusing_open)
    return refused


@pytest.fixture
def written(tmp_path) -> tuple[Path, bytes]:
    """A file of unaligned length just written with direct I/O."""
    data = payload(READ_SIZE, seed=10)
    path = tmp_path / "written"
    write_file(path, data, (MiB + 1,), direct=True)
    return path, data
