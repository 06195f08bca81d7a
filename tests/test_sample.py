"""Sample digests: equal content gives equal samples; the windows cover the file's ends."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from modeldepot.sample import (
    SAMPLE_MIN_SIZE,
    WINDOW,
    WINDOWS,
    has_sample,
    sample_digest,
    sample_of_file,
    window_offsets,
)

SIZE = SAMPLE_MIN_SIZE + 12345


def of_bytes(data: bytes) -> str:
    return sample_digest(len(data), lambda offset, length: [data[offset : offset + length]])


def of_path(path: Path) -> str:
    with open(path, "rb", buffering=0) as fileobj:
        return sample_of_file(fileobj.fileno(), path.stat().st_size)


@pytest.mark.parametrize("size", [SAMPLE_MIN_SIZE, SIZE, 3 * 1024**3 + 7])
def test_windows_start_at_the_head_end_at_the_tail_and_do_not_overlap(size: int) -> None:
    offsets = window_offsets(size)
    assert len(offsets) == WINDOWS
    assert offsets[0] == 0 and offsets[-1] + WINDOW == size
    assert all(b - a >= WINDOW for a, b in itertools.pairwise(offsets))


def test_equal_content_gives_equal_samples_from_bytes_and_from_files(tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    (tmp_path / "a").write_bytes(data)
    (tmp_path / "b").write_bytes(data)
    assert of_path(tmp_path / "a") == of_path(tmp_path / "b") == of_bytes(data)
    assert of_bytes(data).startswith("sha256:")


def test_a_byte_changed_in_any_window_changes_the_sample() -> None:
    data = bytearray(os.urandom(SIZE))
    before = of_bytes(bytes(data))
    for offset in window_offsets(SIZE):
        for where in (offset, offset + WINDOW - 1):
            data[where] ^= 0xFF
            assert of_bytes(bytes(data)) != before, where
            data[where] ^= 0xFF
    assert of_bytes(bytes(data)) == before


def test_a_byte_between_windows_leaves_it_alone_and_the_size_counts() -> None:
    """A match proves nothing, which is why clients hash a matching file first."""
    data = bytearray(os.urandom(SIZE))
    before = of_bytes(bytes(data))
    data[window_offsets(SIZE)[1] - 1] ^= 0xFF
    assert of_bytes(bytes(data)) == before
    assert of_bytes(bytes(data) + b"\0") != before


def test_small_files_have_no_sample_and_short_reads_are_refused(tmp_path: Path) -> None:
    assert not has_sample(SAMPLE_MIN_SIZE - 1) and has_sample(SAMPLE_MIN_SIZE)
    with pytest.raises(ValueError, match="no sample"):
        of_bytes(b"x" * (SAMPLE_MIN_SIZE - 1))
    path = tmp_path / "shrunk"
    path.write_bytes(os.urandom(SIZE))
    with open(path, "rb", buffering=0) as fileobj, pytest.raises(ValueError, match="read"):
        sample_of_file(fileobj.fileno(), SIZE + WINDOW)  # the file is shorter than that
