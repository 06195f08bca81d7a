"""Large files with direct I/O: whole aligned blocks go between the disk and one reused
buffer, past the page cache. ``DirectAppender`` writes, ``DirectReader`` reads.

A blob written through the page cache costs a page allocation and a copy for every
4 KiB, then a flush at ``fsync``; gigabytes of it also evict what the server keeps
cached (its database pages). Written with ``O_DIRECT``, the bytes go from one reused
aligned buffer to the device, and the ``fsync`` that makes the blob durable has almost
nothing left to do. On this project's reference machine that is 0.45 s for 1 GiB
instead of 2 to 2.7 s (see ``bench/README.md``).

``O_DIRECT`` needs the buffer, the file offset and the length aligned to the device's
block. ``DirectAppender`` keeps the unaligned rest in memory and, at ``close``, writes
it through the page cache (the kernel keeps both paths coherent), so the file never
holds padding, even after a crash. Appending to a file whose length is not a block
multiple starts by reading its partial last block back.
Where the filesystem refuses ``O_DIRECT`` (some network and FUSE filesystems), the
same classes go through the page cache instead; the bytes on disk are identical.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import mmap
import os
import sys
import threading
from collections.abc import Callable, Iterator

# Alignment for offsets, lengths and buffers: a page, which is also a multiple of every
# logical block size in use (512 and 4096 bytes).
BLOCK = 4096
# The aligned staging buffer; also the size of each write to the device.
BUFFER = 4 * 1024 * 1024

_DIRECT = getattr(os, "O_DIRECT", 0)


class AlignedBuffer:
    """A page-aligned buffer of ``BUFFER + BLOCK`` bytes (room for an unaligned head)."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, BUFFER + BLOCK)
        self._anchor = ctypes.c_char.from_buffer(self._map)
        self.address = ctypes.addressof(self._anchor)
        self.view = memoryview(self._map)

    def copy_in(self, at: int, data: bytes | memoryview, start: int, length: int) -> None:
        """``view[at : at + length] = data[start : start + length]``; from ``bytes`` or
        a writable buffer, with the GIL released (``ctypes.memmove``), so the copy runs
        beside the event loop or the receiving thread instead of pausing it."""
        if isinstance(data, bytes):
            ctypes.memmove(self.address + at, _address_of(data) + start, length)
            return
        if not data.readonly and data.contiguous:
            anchor = ctypes.c_char.from_buffer(data)
            ctypes.memmove(self.address + at, ctypes.addressof(anchor) + start, length)
            return
        self.view[at : at + length] = data[start : start + length]

    def close(self) -> None:
        self.view.release()
        del self._anchor
        self._map.close()


def _address_of(data: bytes) -> int:
    return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0


# Aligned buffers are reused: touching fresh pages for every file costs page faults.
# Enough for four uploads at once, each with a buffer filling and one being written.
_SPARE_BUFFERS = 8
_spare: list[AlignedBuffer] = []
_spare_lock = threading.Lock()


def take_buffer() -> AlignedBuffer:
    """An aligned buffer from the pool (or a new one); hand it back with ``give_buffer``."""
    with _spare_lock:
        if _spare:
            return _spare.pop()
    return AlignedBuffer()


def give_buffer(buffer: AlignedBuffer) -> None:
    """Return ``buffer`` to the pool; nothing may use it afterwards."""
    with _spare_lock:
        if len(_spare) < _SPARE_BUFFERS:
            _spare.append(buffer)
            return
    buffer.close()


def create(path: str | os.PathLike[str], *, direct: bool = True) -> tuple[int, bool]:
    """Create (or truncate) a file to write; return (fd, whether it uses direct I/O)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
    if direct and _DIRECT:
        try:
            return os.open(path, flags | _DIRECT, 0o644), True
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    return os.open(path, flags, 0o644), False


def open_for_append(path: str | os.PathLike[str], *, direct: bool = True) -> tuple[int, bool]:
    """Open an existing file to append to; return (fd, whether it uses direct I/O).

    FileNotFoundError if it does not exist. Falls back to buffered I/O where the
    filesystem (or platform) does not offer ``O_DIRECT``.
    """
    if direct and _DIRECT:
        try:
            return os.open(path, os.O_RDWR | _DIRECT), True
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    return os.open(path, os.O_RDWR), False


class DirectAppender:
    """Appends to the file open on ``fd`` from ``offset`` (its current length).

    ``write`` returns once the bytes are in the file or in this object's buffer;
    ``close`` writes the buffer's rest and leaves the file exactly ``offset`` plus the
    bytes written long. The caller owns ``fd`` and closes it after ``close``. Not
    thread-safe.
    """

    def __init__(self, fd: int, offset: int, *, direct: bool) -> None:
        self._fd = fd
        self._direct = direct
        self._size = offset
        # Taken when first needed: writes from aligned buffers may never need one.
        self._buffer: AlignedBuffer | None = None
        # The buffer holds the file's bytes from ``_base`` (block-aligned) on.
        self._base = offset - offset % BLOCK
        self._filled = offset - self._base
        if direct and self._filled:
            read = os.preadv(fd, [self._own_buffer().view[:BLOCK]], self._base)
            if read < self._filled:
                raise OSError(errno.EIO, f"short read of the last block at {self._base}")

    def _own_buffer(self) -> AlignedBuffer:
        if self._buffer is None:
            self._buffer = take_buffer()
        return self._buffer

    @property
    def size(self) -> int:
        """The file's length once everything written so far is flushed."""
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._direct:
            view = memoryview(data).cast("B")
            _write_all(self._fd, view, self._size)
            self._size += view.nbytes
            return
        source = data if isinstance(data, bytes) else memoryview(data).cast("B")
        done, total = 0, len(source)
        if not self._filled and isinstance(source, memoryview):
            done = self._write_in_place(source)
        while done < total:
            taken = min(BUFFER - self._filled, total - done)
            self._own_buffer().copy_in(self._filled, source, done, taken)
            self._filled += taken
            done += taken
            self._size += taken
            if self._filled == BUFFER:
                self._flush_whole()

    def _write_in_place(self, source: memoryview) -> int:
        """Write the whole blocks at the start of ``source`` straight from it when it is
        aligned (an ``AlignedBuffer`` of the caller's): no copy. Return the bytes written."""
        whole = source.nbytes - source.nbytes % BLOCK
        if whole < BLOCK or source.readonly or not source.c_contiguous:
            return 0
        anchor = ctypes.c_char.from_buffer(source)
        aligned = ctypes.addressof(anchor) % BLOCK == 0
        del anchor
        if not aligned:
            return 0
        _write_all(self._fd, source[:whole], self._base)
        self._base += whole
        self._size += whole
        return whole

    def close(self) -> int:
        """Write what is buffered: whole blocks directly, the partial last one buffered."""
        if self._direct:
            self._flush_whole()
            if self._filled:
                flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
                fcntl.fcntl(self._fd, fcntl.F_SETFL, flags & ~_DIRECT)
                _write_all(self._fd, self._own_buffer().view[: self._filled], self._base)
            if self._buffer is not None:
                give_buffer(self._buffer)
                self._buffer = None
            self._direct = False  # closed: nothing left buffered
        return self._size

    def abandon(self, size: int) -> None:
        """Forget what is buffered (the caller truncates the file to ``size``) and give
        the buffer back; ``close`` then writes nothing."""
        if self._buffer is not None:
            give_buffer(self._buffer)
            self._buffer = None
        self._filled = 0
        self._size = size
        self._direct = False

    def _flush_whole(self) -> None:
        """Write the buffer's whole blocks; keep the partial last one at its start."""
        whole = self._filled - self._filled % BLOCK
        if not whole:
            return
        view = self._own_buffer().view
        _write_all(self._fd, view[:whole], self._base)
        rest = self._filled - whole
        if rest:
            view[:rest] = view[whole : self._filled]
        self._base += whole
        self._filled = rest


def _write_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


class DirectReader:
    """Reads a file in chunks: a chunk the page cache holds entirely comes from it, any
    other straight from the disk with direct I/O, so serving a cold multi-gigabyte blob
    neither fills the page cache nor evicts what it holds.

    Residency is asked of the kernel with ``cachestat`` (Linux 6.5), which, unlike a
    ``RWF_NOWAIT`` read, starts no readahead. Without ``O_DIRECT`` or ``cachestat``
    every chunk is read through the page cache. The caller owns ``fd`` and closes it.
    """

    def __init__(self, fd: int, *, chunk: int = BUFFER, direct: bool = True) -> None:
        self._fd = fd
        self._chunk = max(BLOCK, min(chunk, BUFFER) - chunk % BLOCK)
        self._direct_fd: int | None = None
        self._direct = direct and bool(_DIRECT) and cached_pages(fd, 0, BLOCK) is not None
        # Readers serve immutable blobs and verified uploads: the length does not change.
        self._length = os.fstat(fd).st_size if self._direct else 0
        self._buffer: AlignedBuffer | None = None
        self._view = memoryview(b"")

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` (at most one chunk) bytes from ``offset``; b"" at the end."""
        size = min(size, self._chunk)
        if size <= 0:
            return b""
        if self._direct:
            # Pages past the end are never cached: count only the file's own.
            size = min(size, self._length - offset)
            if size <= 0:
                return b""
            pages = (offset + size - 1) // BLOCK - offset // BLOCK + 1
            cached = cached_pages(self._fd, offset, size)
            if cached is not None and cached < pages:
                return self._read_direct(offset, size)
        return os.pread(self._fd, size, offset)

    def chunks(self, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """``length`` bytes (else to the end) from ``offset`` in chunks, the next one
        read in a helper thread while the caller uses this one."""
        from modeldepot.overlap import read_ahead

        yield from read_ahead(_Cursor(self, offset, length), self._chunk)  # type: ignore[arg-type]

    def _read_direct(self, offset: int, size: int) -> bytes:
        if self._direct_fd is None:
            try:
                self._direct_fd = os.open(f"/proc/self/fd/{self._fd}", os.O_RDONLY | _DIRECT)
            except OSError:
                self._direct = False
                return os.pread(self._fd, size, offset)
            self._buffer = take_buffer()
            self._view = self._buffer.view
        start = offset - offset % BLOCK
        span = -(-(offset + size - start) // BLOCK) * BLOCK
        try:
            n = os.preadv(self._direct_fd, [self._view[:span]], start)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._direct = False  # this filesystem reads only through the cache
            return os.pread(self._fd, size, offset)
        head = offset - start
        return bytes(self._view[head : min(n, head + size)]) if n > head else b""

    def close(self) -> None:
        if self._direct_fd is not None:
            os.close(self._direct_fd)
            self._direct_fd = None
        if self._buffer is not None:
            give_buffer(self._buffer)
            self._buffer = None


class _Cursor:
    """A file-like ``read(size)`` over ``length`` bytes (or to the end) from ``offset``."""

    def __init__(self, reader: DirectReader, offset: int, length: int | None) -> None:
        self._reader = reader
        self._position = offset
        self._end = offset + length if length is not None else None

    def read(self, size: int) -> bytes:
        if self._end is not None:
            size = min(size, self._end - self._position)
        chunk = self._reader.read(self._position, size)
        self._position += len(chunk)
        return chunk


_CACHESTAT = 451  # the syscall's number, the same on every Linux architecture


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")
    ]


@functools.cache
def _syscall() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syscall  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_cachestat_missing = False


def cached_pages(fd: int, offset: int, size: int) -> int | None:
    """How many pages of ``[offset, offset + size)`` the page cache holds, or None when
    the kernel cannot say (no ``cachestat``)."""
    global _cachestat_missing
    syscall = _syscall()
    if syscall is None or _cachestat_missing:
        return None
    found = _Stat()
    if syscall(_CACHESTAT, fd, ctypes.byref(_Range(offset, size)), ctypes.byref(found), 0):
        if ctypes.get_errno() in (errno.ENOSYS, errno.EPERM):
            _cachestat_missing = True  # too old a kernel, or a seccomp filter refusing it
        return None
    return int(found.nr_cache)
