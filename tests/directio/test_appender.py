"""``DirectAppender`` on real files: bytes in equal bytes out, resumed, crashed, refused.

The files live under ``tmp_path`` (a filesystem that accepts ``O_DIRECT``); the tests
that need the refusal of other filesystems make ``os.open`` answer EINVAL.
"""

from __future__ import annotations

import array
import errno
import os

import pytest

from modeldepot import directio
from modeldepot.directio import (
    BLOCK,
    BUFFER,
    DirectAppender,
    DirectReader,
    create,
    open_for_append,
)
from tests.conformance.blobstore import pieces
from tests.directio.support import (
    DIRECT,
    NEEDS_O_DIRECT,
    MiB,
    append,
    evict,
    payload,
    read_through,
    resident,
    uses_o_direct,
    write_file,
)

pytestmark = NEEDS_O_DIRECT


# Appending

APPEND_CASES = {
    "empty": (0, (MiB,)),
    "one_byte": (1, (MiB,)),
    "aligned_blocks": (3 * BLOCK, (BLOCK,)),
    "unaligned": (3 * BLOCK + 5, (MiB,)),
    "exactly_one_buffer": (BUFFER, (BUFFER,)),
    "one_write_of_several_buffers": (2 * BUFFER + BUFFER // 2 + 17, (3 * BUFFER,)),
    "writes_straddling_buffers": (3 * BUFFER + 1, (BUFFER - 1, BUFFER + 1, 3)),
    "many_small_writes": (BUFFER + 99_999, (1, 7, 4093, 4096, 4097, 511, 65_537)),
}


@DIRECT
@pytest.mark.parametrize("case", list(APPEND_CASES))
def test_appended_file_is_the_input_exactly_without_padding(tmp_path, direct, case):
    """Whatever the sizes and cuts, the file holds the bytes written and nothing more."""
    size, sizes = APPEND_CASES[case]
    data = payload(size)
    path = tmp_path / "file"
    fd, used = create(path, direct=direct)
    try:
        assert used is direct and uses_o_direct(fd) is direct
        assert append(fd, 0, data, sizes, direct=used) == size
        assert os.fstat(fd).st_size == size
    finally:
        os.close(fd)
    assert path.read_bytes() == data


BYTES_LIKE = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": memoryview,
    "memoryview_of_uint32": lambda data: memoryview(array.array("I", data)),
}


@DIRECT
@pytest.mark.parametrize("kind", list(BYTES_LIKE))
def test_appender_accepts_any_bytes_like_object(tmp_path, direct, kind):
    """``size`` counts bytes, not items, whatever buffer ``write`` is handed."""
    first, second = payload(4 * 3001, seed=14), payload(4 * 5, seed=15)
    path = tmp_path / "file"
    fd, used = create(path, direct=direct)
    try:
        appender = DirectAppender(fd, 0, direct=used)
        appender.write(BYTES_LIKE[kind](first))
        assert appender.size == len(first)
        appender.write(BYTES_LIKE[kind](second))
        assert appender.close() == len(first) + len(second)
    finally:
        os.close(fd)
    assert path.read_bytes() == first + second


@DIRECT
def test_create_truncates_an_existing_file(tmp_path, direct):
    path = tmp_path / "file"
    path.write_bytes(payload(BUFFER + 10, seed=1))
    write_file(path, b"short", direct=direct)
    assert path.read_bytes() == b"short"


def test_whole_blocks_bypass_the_page_cache(tmp_path):
    """With direct I/O only the partial last block passes through the page cache."""
    path = tmp_path / "file"
    write_file(path, payload(2 * BUFFER + 100), direct=True)
    cached = resident(path)
    if cached is None:
        pytest.skip("this kernel has no cachestat")
    assert cached <= 1


# Resuming


@DIRECT
@pytest.mark.parametrize(
    "first", [BUFFER + 123, 3 * BLOCK, BUFFER, 100, 0], ids=lambda n: f"resume_at_{n}"
)
def test_append_resumed_at_the_files_length_gives_the_concatenation(
    tmp_path, direct, first, empty_pool
):
    """Reopened at its length (aligned or not), a file grows by exactly what is appended."""
    head, tail = payload(first, seed=2), payload(BUFFER + 5000, seed=3)
    path = tmp_path / "file"
    write_file(path, head, (65_537,), direct=direct)
    empty_pool.clear()  # the buffer that wrote the head must not supply its last block

    fd, used = open_for_append(path, direct=direct)
    try:
        assert used is direct and uses_o_direct(fd) is direct
        assert os.fstat(fd).st_size == first
        assert append(fd, first, tail, (4093, MiB), direct=used) == first + len(tail)
    finally:
        os.close(fd)
    assert path.read_bytes() == head + tail


@DIRECT
def test_many_small_resumed_appends_give_the_concatenation(tmp_path, direct, empty_pool):
    """Each resume rereads an unaligned last block; none of them may lose or pad bytes."""
    path = tmp_path / "file"
    write_file(path, b"", direct=direct)
    expected = b""
    for step, size in enumerate([1, 4095, 1, 3, BLOCK, 5000, BUFFER - 1, 2]):
        data = payload(size, seed=step)
        empty_pool.clear()
        fd, used = open_for_append(path, direct=direct)
        try:
            assert append(fd, len(expected), data, (1000,), direct=used) == len(expected) + size
        finally:
            os.close(fd)
        expected += data
    assert path.read_bytes() == expected


# Crashing


@pytest.mark.parametrize("start", [0, 100], ids=["new_file", "resumed_unaligned"])
def test_appender_never_closed_leaves_a_block_multiple_prefix(tmp_path, start):
    """A crash between flushes leaves whole written blocks, never padding; the upload
    then resumes from the length that landed."""
    path = tmp_path / "file"
    data = payload(start, seed=4) + payload(5 * MiB + 7, seed=5)
    write_file(path, data[:start], direct=True)

    fd, used = open_for_append(path, direct=True)
    appender = DirectAppender(fd, start, direct=used)
    for piece in pieces(data[start:], (MiB,)):
        appender.write(piece)
    os.close(fd)  # no appender.close(): the process died here

    landed = path.read_bytes()
    assert len(landed) % BLOCK == 0
    assert start <= len(landed) <= len(data)
    assert landed == data[: len(landed)]

    fd, used = open_for_append(path, direct=True)
    try:
        append(fd, len(landed), data[len(landed) :], (MiB,), direct=used)
    finally:
        os.close(fd)


# Falling back where O_DIRECT is refused


def test_create_and_append_fall_back_to_buffered_io_on_einval(tmp_path, no_o_direct):
    """Where O_DIRECT is refused, files open buffered and come out identical."""
    head, tail = payload(BUFFER + 123, seed=6), payload(2 * BUFFER + 1, seed=7)
    path = tmp_path / "file"

    fd, used = create(path, direct=True)
    try:
        assert used is False and not uses_o_direct(fd)
        append(fd, 0, head, (MiB + 1,), direct=used)
    finally:
        os.close(fd)
    fd, used = open_for_append(path, direct=True)
    try:
        assert used is False and not uses_o_direct(fd)
        append(fd, len(head), tail, (MiB - 1,), direct=used)
    finally:
        os.close(fd)

    assert len(no_o_direct) == 2  # each one tried direct I/O first
    assert path.read_bytes() == head + tail


def test_reader_falls_back_to_the_page_cache_on_einval(tmp_path, no_o_direct):
    """A cold file on a filesystem refusing O_DIRECT still reads back exactly."""
    data = payload(BUFFER + 4097, seed=8)
    path = tmp_path / "file"
    path.write_bytes(data)
    evict(path)
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, direct=True)
    try:
        assert reader.read(1, 10) == data[1:11]
        assert read_through(reader, 5, len(data)) == data[5:]
    finally:
        reader.close()
        os.close(fd)


@DIRECT
def test_open_for_append_of_a_missing_file_raises_file_not_found(tmp_path, direct):
    with pytest.raises(FileNotFoundError):
        open_for_append(tmp_path / "missing", direct=direct)
    assert not (tmp_path / "missing").exists()


def test_errors_other_than_einval_are_not_taken_for_a_refusal(tmp_path, monkeypatch):
    """Only EINVAL means "no O_DIRECT here"; a denied open is not retried buffered."""
    real_open = os.open

    def denying_open(path, flags, *args, **kwargs):
        if flags & os.O_DIRECT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    (tmp_path / "existing").write_bytes(b"x")
    monkeypatch.setattr(directio.os, "open", denying_open)
    with pytest.raises(PermissionError):
        create(tmp_path / "new", direct=True)
    with pytest.raises(PermissionError):
        open_for_append(tmp_path / "existing", direct=True)
