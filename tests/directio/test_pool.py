"""The pool of aligned buffers ``directio`` reuses."""

from __future__ import annotations

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
from tests.directio.support import (
    NEEDS_O_DIRECT,
    append,
    evict,
    write_file,
)

pytestmark = NEEDS_O_DIRECT


# The buffer pool


def test_a_buffer_given_back_is_taken_again(empty_pool):
    buffer = directio.take_buffer()
    directio.give_buffer(buffer)
    assert empty_pool == [buffer]
    assert directio.take_buffer() is buffer
    assert empty_pool == []


def test_pool_keeps_at_most_its_spare_buffers(tmp_path, written, empty_pool):
    """However many files were open at once, the pool keeps few buffers afterwards."""
    path, data = written
    evict(path)
    many = directio._SPARE_BUFFERS + 8
    fds = [os.open(path, os.O_RDONLY) for _ in range(many)]
    readers = [DirectReader(fd, direct=True) for fd in fds]
    try:
        for reader in readers:
            assert reader.read(1, 10) == data[1:11]
    finally:
        for reader, fd in zip(readers, fds, strict=True):
            reader.close()
            os.close(fd)
    assert len(empty_pool) == directio._SPARE_BUFFERS

    outputs = [create(tmp_path / f"out{i}", direct=True) for i in range(many)]
    appenders = [DirectAppender(fd, 0, direct=used) for fd, used in outputs]
    for appender in appenders:
        appender.write(b"x" * (BLOCK + 1))
    for appender, (fd, _) in zip(appenders, outputs, strict=True):
        assert appender.close() == BLOCK + 1
        os.close(fd)
    assert len(empty_pool) <= directio._SPARE_BUFFERS
    for i in range(many):
        assert (tmp_path / f"out{i}").read_bytes() == b"x" * (BLOCK + 1)


def test_a_readers_buffer_is_reused_by_the_next_reader(written, empty_pool):
    path, data = written
    evict(path)
    for _ in range(3):
        fd = os.open(path, os.O_RDONLY)
        reader = DirectReader(fd, direct=True)
        try:
            assert reader.read(5, 5) == data[5:10]
        finally:
            reader.close()
            os.close(fd)
        assert len(empty_pool) == 1
    first = empty_pool[0]
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, direct=True)
    try:
        reader.read(0, 1)
        assert empty_pool == []  # taken from the pool, not made anew
    finally:
        reader.close()
        os.close(fd)
    assert empty_pool == [first]


def test_an_appenders_buffer_goes_back_to_the_pool(tmp_path, empty_pool):
    buffer = directio.take_buffer()
    directio.give_buffer(buffer)
    fd, used = create(tmp_path / "file", direct=True)
    try:
        appender = DirectAppender(fd, 0, direct=used)
        assert empty_pool == [buffer]  # taken only when bytes must wait in it
        appender.write(b"y" * 10)
        assert empty_pool == []
        appender.close()
    finally:
        os.close(fd)
    assert (tmp_path / "file").read_bytes() == b"y" * 10
    assert empty_pool == [buffer]


def test_bytes_left_in_a_reused_buffer_never_reach_a_file(tmp_path, empty_pool):
    """A pooled buffer still holds its last file's bytes; no later file may show them."""
    big = tmp_path / "big"
    write_file(big, b"X" * (BUFFER + BLOCK), (BUFFER + BLOCK,), direct=True)
    evict(big)
    fd = os.open(big, os.O_RDONLY)
    reader = DirectReader(fd, direct=True)
    try:
        assert reader.read(0, BUFFER) == b"X" * BUFFER  # fills a buffer with X
    finally:
        reader.close()
        os.close(fd)
    assert len(empty_pool) == 1

    small = tmp_path / "small"
    small.write_bytes(b"Y" * 100)
    fd, used = open_for_append(small, direct=True)
    try:
        append(fd, 100, b"Z" * 5, (5,), direct=used)
    finally:
        os.close(fd)
    assert small.read_bytes() == b"Y" * 100 + b"Z" * 5

    evict(small)
    fd = os.open(small, os.O_RDONLY)
    reader = DirectReader(fd, direct=True)
    try:
        assert reader.read(0, BUFFER) == b"Y" * 100 + b"Z" * 5
        assert reader.read(50, 100) == b"Y" * 50 + b"Z" * 5
        assert reader.read(105, 100) == b""
    finally:
        reader.close()
        os.close(fd)


# Writing from the caller's aligned buffers


def _aligned_view(data: bytes) -> tuple[directio.AlignedBuffer, memoryview]:
    buffer = directio.take_buffer()
    buffer.view[: len(data)] = data
    return buffer, buffer.view[: len(data)]


@pytest.mark.parametrize("size", [BUFFER, 3 * BLOCK, 3 * BLOCK + 5])
def test_an_aligned_view_is_written_in_place_without_a_buffer(tmp_path, empty_pool, size):
    """Whole blocks go to the disk straight from the caller's aligned buffer; only a
    partial last block needs one of the appender's own."""
    data = os.urandom(size)
    source, view = _aligned_view(data)
    fd, used = create(tmp_path / "file", direct=True)
    try:
        appender = DirectAppender(fd, 0, direct=used)
        appender.write(view)
        took_one = appender._buffer is not None
        assert appender.close() == size
    finally:
        os.close(fd)
        view.release()
        directio.give_buffer(source)
    assert took_one == (size % BLOCK != 0)
    assert (tmp_path / "file").read_bytes() == data


@pytest.mark.parametrize("cut", [1, BLOCK - 1])
def test_views_that_are_not_aligned_are_copied(tmp_path, cut):
    """A view starting off a block boundary, or an appender holding a partial block,
    goes through the appender's buffer: the bytes still land exactly."""
    data = os.urandom(BUFFER + BLOCK)
    source, view = _aligned_view(data)
    fd, used = create(tmp_path / "file", direct=True)
    try:
        appender = DirectAppender(fd, 0, direct=used)
        appender.write(view[cut:BUFFER])  # starts unaligned
        appender.write(view[BUFFER:])  # aligned, but the appender holds a partial block
        assert appender.close() == BUFFER + BLOCK - cut
    finally:
        os.close(fd)
        view.release()
        directio.give_buffer(source)
    assert (tmp_path / "file").read_bytes() == data[cut:]


def test_an_in_place_write_resumes_after_an_unaligned_start(tmp_path):
    """Appending to a file of unaligned length, then writing aligned views: the partial
    last block is read back, filled, and the file is the concatenation."""
    head = os.urandom(5000)
    write_file(tmp_path / "file", head, (5000,), direct=True)
    rest = os.urandom(BUFFER)
    source, view = _aligned_view(rest)
    fd, used = open_for_append(tmp_path / "file", direct=True)
    try:
        appender = DirectAppender(fd, len(head), direct=used)
        appender.write(view)
        appender.write(view[:BLOCK])
        assert appender.close() == len(head) + BUFFER + BLOCK
    finally:
        os.close(fd)
        view.release()
        directio.give_buffer(source)
    assert (tmp_path / "file").read_bytes() == head + rest + rest[:BLOCK]
