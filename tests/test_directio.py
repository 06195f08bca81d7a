"""``modeldepot.directio`` on real files: bytes in equal bytes out, in every mode.

The files live under ``tmp_path`` (a filesystem that accepts ``O_DIRECT``); the tests
that need the refusal of other filesystems make ``os.open`` answer EINVAL.
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from modeldepot import directio
from modeldepot.directio import (
    BLOCK,
    BUFFER,
    DirectAppender,
    DirectReader,
    cached_pages,
    create,
    open_for_append,
)
from tests.conformance.blobstore import pieces

MiB = 1024 * 1024
HAS_O_DIRECT = bool(getattr(os, "O_DIRECT", 0))
pytestmark = pytest.mark.skipif(not HAS_O_DIRECT, reason="this platform has no O_DIRECT")
DIRECT = pytest.mark.parametrize("direct", [True, False], ids=["direct", "buffered"])


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


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


def append(fd: int, offset: int, data: bytes, sizes: Sequence[int], *, direct: bool) -> int:
    """Append ``data`` in pieces with a ``DirectAppender``; return what ``close`` says."""
    appender = DirectAppender(fd, offset, direct=direct)
    for piece in pieces(data, sizes):
        appender.write(piece)
    assert appender.size == offset + len(data)
    return appender.close()


def write_file(path: Path, data: bytes, sizes: Sequence[int] = (MiB,), *, direct: bool) -> None:
    fd, used = create(path, direct=direct)
    try:
        assert used is direct
        assert append(fd, 0, data, sizes, direct=used) == len(data)
    finally:
        os.close(fd)


def uses_o_direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache (written back first, or they stay)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        return cached_pages(fd, 0, max(1, path.stat().st_size))
    finally:
        os.close(fd)


@pytest.fixture
def empty_pool(monkeypatch) -> list:
    """The pool of spare buffers, emptied: every buffer taken is a fresh one."""
    pool: list = []
    monkeypatch.setattr(directio, "_spare", pool)
    return pool


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
    assert path.read_bytes() == data


# Falling back where O_DIRECT is refused


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


# Reading


def read_through(reader: DirectReader, offset: int, end: int) -> bytes:
    """Everything from ``offset`` on, one ``read`` at a time, as a server streams it."""
    parts = []
    while chunk := reader.read(offset, end - offset):
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


READ_SIZE = 2 * BUFFER + 12_345


@pytest.fixture
def written(tmp_path) -> tuple[Path, bytes]:
    """A file of unaligned length just written with direct I/O."""
    data = payload(READ_SIZE, seed=10)
    path = tmp_path / "written"
    write_file(path, data, (MiB + 1,), direct=True)
    return path, data


def put_in_state(path: Path, state: str) -> None:
    if state in ("cold", "half_cached"):
        evict(path)
    if state in ("warm", "half_cached"):
        with path.open("rb") as file:
            file.read(READ_SIZE // 2 if state == "half_cached" else None)


STATES = pytest.mark.parametrize("state", ["just_written", "cold", "half_cached", "warm"])


def window_cases(size: int, chunk: int) -> list[tuple[int, int]]:
    return [
        (0, size),
        (0, 1),
        (1, 100),
        (BLOCK - 1, 2),
        (BLOCK, BLOCK),
        (BLOCK + 1, chunk),
        (BUFFER - 3, 10),
        (BUFFER - 3, 2 * BUFFER),
        (3, BUFFER + BLOCK),
        (size - 10, 100),
        (size - 1, 1),
        (size, 10),
        (size + 5000, 10),
        (17, 0),
    ]


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


# Copying


# The buffer pool


def test_a_buffer_given_back_is_taken_again(empty_pool):
    buffer = directio._take_buffer()
    directio._give_buffer(buffer)
    assert empty_pool == [buffer]
    assert directio._take_buffer() is buffer
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
    buffer = directio._take_buffer()
    directio._give_buffer(buffer)
    fd, used = create(tmp_path / "file", direct=True)
    try:
        appender = DirectAppender(fd, 0, direct=used)
        assert empty_pool == []
        appender.write(b"y" * 10)
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
