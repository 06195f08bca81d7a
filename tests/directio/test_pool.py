"""The pool of aligned buffers ``directio`` reuses."""

from __future__ import annotations

import os

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
