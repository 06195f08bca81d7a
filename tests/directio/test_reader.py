"""``DirectReader`` on real files in every cache state: the file's bytes, and a page
cache left as it was."""

from __future__ import annotations

import os

import pytest

from modeldepot import directio
from modeldepot.directio import (
    BLOCK,
    BUFFER,
    DirectReader,
    cached_pages,
)
from tests.directio.support import (
    NEEDS_O_DIRECT,
    STATES,
    MiB,
    evict,
    payload,
    put_in_state,
    read_through,
    resident,
    window_cases,
)

pytestmark = NEEDS_O_DIRECT


@STATES
@pytest.mark.parametrize("chunk", [BUFFER, 64 * 1024, BLOCK])
def test_reader_returns_the_files_bytes_at_any_offset(written, state, chunk):
    """Each read is the file's bytes from ``offset``: ``min(size, chunk)`` of them,
    fewer only at the end, b"" at or past it; cached or not, aligned or not."""
    path, data = written
    put_in_state(path, state)
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, chunk=chunk, direct=True)
    try:
        for offset, size in window_cases(len(data), chunk):
            expected = data[offset : offset + min(size, chunk)]
            assert reader.read(offset, size) == expected, (offset, size)
        assert read_through(reader, 0, len(data)) == data
        assert read_through(reader, 4097, len(data)) == data[4097:]
    finally:
        reader.close()
        os.close(fd)


@pytest.mark.parametrize("chunk", [10_000, BUFFER + 1, 1, 3 * BUFFER])
def test_reader_with_odd_chunk_sizes_reads_whole_file(written, chunk):
    """Whatever ``chunk`` it is given, no read is empty before the end or overlaps."""
    path, data = written
    evict(path)
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, chunk=chunk, direct=True)
    try:
        assert read_through(reader, 0, len(data)) == data
        assert read_through(reader, 12_345, len(data)) == data[12_345:]
        assert 0 < len(reader.read(3, len(data))) <= max(chunk, BLOCK)
    finally:
        reader.close()
        os.close(fd)


def test_reading_a_cold_file_leaves_the_page_cache_empty(written):
    """The design's point: serving an uncached blob does not fill the page cache."""
    path, data = written
    evict(path)
    before = resident(path)
    if before is None:
        pytest.skip("this kernel has no cachestat")
    assert before == 0
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, direct=True)
    try:
        assert read_through(reader, 0, len(data)) == data
        assert read_through(reader, 3, len(data)) == data[3:]
    finally:
        reader.close()
        os.close(fd)
    assert resident(path) <= 1


def test_reading_a_warm_file_keeps_it_cached(written, direct_opens):
    """Chunks the page cache holds are read from it: no direct I/O, nothing evicted."""
    path, data = written
    put_in_state(path, "warm")
    pages = -(-len(data) // BLOCK)
    if resident(path) is None:
        pytest.skip("this kernel has no cachestat")
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, chunk=64 * 1024, direct=True)
    try:
        assert read_through(reader, 0, len(data)) == data
        assert reader.read(BLOCK + 1, BLOCK) == data[BLOCK + 1 : 2 * BLOCK + 1]
    finally:
        reader.close()
        os.close(fd)
    assert direct_opens == []
    assert resident(path) == pages


def test_last_chunk_of_a_cached_file_comes_from_the_cache(written, direct_opens):
    """A cached file is served from the cache to its end, even when a read asks for more
    than is left (a streaming server asks for whole chunks)."""
    path, data = written
    put_in_state(path, "warm")
    if resident(path) is None:
        pytest.skip("this kernel has no cachestat")
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, chunk=MiB, direct=True)
    try:
        position = 0
        while chunk := reader.read(position, MiB):
            position += len(chunk)
        assert position == len(data)
    finally:
        reader.close()
        os.close(fd)
    assert direct_opens == []


def test_direct_read_sees_bytes_still_dirty_in_the_page_cache(tmp_path):
    """A chunk partly cached with unwritten changes is read directly, and still shows
    them: the kernel writes them back before a direct read."""
    path = tmp_path / "file"
    data = bytearray(payload(BUFFER + 777, seed=11))
    path.write_bytes(data)
    evict(path)
    fd = os.open(path, os.O_RDWR)
    reader = DirectReader(fd, direct=True)
    try:
        os.pwrite(fd, b"changed!", 5000)  # one dirty page, the rest uncached
        data[5000:5008] = b"changed!"
        assert read_through(reader, 0, len(data)) == data
        assert reader.read(4999, 10) == data[4999:5009]
    finally:
        reader.close()
        os.close(fd)


def test_reader_without_cachestat_reads_through_the_page_cache(written, monkeypatch):
    """When the kernel cannot say what is cached, every read is a plain pread."""
    path, data = written
    evict(path)
    real_cached_pages = cached_pages
    monkeypatch.setattr(directio, "cached_pages", lambda fd, offset, size: None)
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, chunk=64 * 1024, direct=True)
    try:
        for offset, size in window_cases(len(data), 64 * 1024):
            assert reader.read(offset, size) == data[offset : offset + min(size, 64 * 1024)]
        assert read_through(reader, 0, len(data)) == data
        after = real_cached_pages(fd, 0, len(data))
    finally:
        reader.close()
        os.close(fd)
    if after is not None:
        assert after == -(-len(data) // BLOCK)  # pread filled the cache


@pytest.mark.parametrize("state", ["cold", "warm"])
def test_reader_with_direct_off_reads_through_the_page_cache(written, state):
    path, data = written
    put_in_state(path, state)
    fd = os.open(path, os.O_RDONLY)
    reader = DirectReader(fd, direct=False)
    try:
        assert read_through(reader, 7, len(data)) == data[7:]
    finally:
        reader.close()
        os.close(fd)
