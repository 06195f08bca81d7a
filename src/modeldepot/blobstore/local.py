"""``LocalBlobStore``: blobs as files under one directory (the layout in ``paths``).

Writes go to ``uploads/<id>``, are fsynced, verified, then renamed under their digest,
so a crash at any instant leaves either no blob or a whole verified one. Uploads are
written with direct I/O where the filesystem allows it (see ``modeldepot.directio``).

A full filesystem (``ENOSPC``, ``EDQUOT``) raises ``InsufficientStorage`` and keeps
nothing of the write that failed: a writer truncates its session back to where it
began, a finishing upload discards its staged copy.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from modeldepot.blobstore import paths
from modeldepot.blobstore.base import BlobInfo, StagedInfo
from modeldepot.digest import CHUNK_SIZE, PipelinedHasher, from_hasher, parse_digest
from modeldepot.directio import DirectAppender, DirectReader, open_for_append
from modeldepot.errors import (
    BlobNotFound,
    DigestMismatch,
    InsufficientStorage,
    SizeMismatch,
    UploadConflict,
    UploadNotFound,
    UploadOffsetMismatch,
)

READ_CHUNK = 4 * CHUNK_SIZE
# What a full filesystem (or a user's exhausted quota) answers to a write.
OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class LocalBlobStore:
    """A blob store on a local (or network-mounted POSIX) filesystem."""

    def __init__(self, root: str | Path, *, fsync: bool = True, direct_io: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.direct_io = direct_io
        (self.root / paths.BLOBS).mkdir(parents=True, exist_ok=True)
        (self.root / paths.UPLOADS).mkdir(parents=True, exist_ok=True)
        # Running hash of sessions written by this process, keyed on the staged file's
        # identity (inode, size, mtime), so finishing an upload does not read it back.
        # Only an optimisation: a session touched elsewhere does not match and is re-read.
        self._hashes: dict[str, tuple[_Identity, hashlib._Hash]] = {}
        self._lock = threading.Lock()

    def _blob_path(self, digest: str) -> Path:
        return self.root / paths.blob_key(digest)

    def _staged_path(self, upload_id: str) -> Path:
        return self.root / paths.upload_key(upload_id)

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer can still put on the store's filesystem."""
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def device(self) -> int:
        return os.stat(self.root).st_dev

    def _full(self, exc: OSError) -> InsufficientStorage:
        return InsufficientStorage(
            f"the blob store's filesystem ({self.root}) is full: {exc.strerror}; "
            "free space on it (or run `modeldepot gc`), then try again",
            resource="blobstore",
        )

    def stat(self, digest: str) -> int | None:
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, digest: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        try:
            fd = os.open(self._blob_path(digest), os.O_RDONLY)
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} does not exist") from None
        return _read_range(fd, offset, length, direct=self.direct_io)

    def delete(self, digest: str) -> bool:
        try:
            self._blob_path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def iter_blobs(self) -> Iterator[BlobInfo]:
        base = self.root / paths.BLOBS
        for prefix in sorted(os.listdir(base)):
            folder = base / prefix
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                digest = paths.digest_of_key(f"{paths.BLOBS}/{prefix}/{entry.name}")
                if digest is None:
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # deleted since the directory was listed
                yield BlobInfo(digest, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def begin_upload(self, upload_id: str) -> None:
        path = self._staged_path(upload_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in OUT_OF_SPACE:
                raise self._full(exc) from exc
            raise
        os.close(fd)

    def staged_size(self, upload_id: str) -> int:
        try:
            return self._staged_path(upload_id).stat().st_size
        except FileNotFoundError:
            raise UploadNotFound(f"upload {upload_id} has no staged data") from None

    def open_upload(self, upload_id: str, offset: int) -> _LocalUploadWriter:
        path = self._staged_path(upload_id)
        try:
            fd, direct = open_for_append(path, direct=self.direct_io)
        except FileNotFoundError:
            raise UploadNotFound(f"upload {upload_id} has no staged data") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UploadConflict(
                f"upload {upload_id} is being written by another request"
            ) from None
        st = os.fstat(fd)
        size = st.st_size
        if size != offset:
            os.close(fd)
            raise UploadOffsetMismatch(
                f"upload {upload_id} has {size} bytes, the request starts at {offset}", offset=size
            )
        with self._lock:
            cached = self._hashes.pop(upload_id, None)
        hasher = cached[1] if cached is not None and cached[0] == _identity(st) else None
        if hasher is None and size == 0:
            hasher = hashlib.sha256()
        return _LocalUploadWriter(
            self, upload_id, fd, DirectAppender(fd, size, direct=direct), hasher
        )

    def _remember_hash(
        self, upload_id: str, identity: _Identity, hasher: hashlib._Hash | None
    ) -> None:
        with self._lock:
            if hasher is None:
                self._hashes.pop(upload_id, None)
            else:
                self._hashes[upload_id] = (identity, hasher)

    def finish_upload(self, upload_id: str, digest: str, size: int) -> None:
        try:
            self._finish_upload(upload_id, digest, size)
        except OSError as exc:
            if exc.errno not in OUT_OF_SPACE:
                raise
            # No room to commit it (a directory entry, or bytes a network filesystem
            # only reserves at fsync): the staged copy is discarded, not kept hostage.
            self.abort_upload(upload_id)
            raise self._full(exc) from exc

    def _finish_upload(self, upload_id: str, digest: str, size: int) -> None:
        parse_digest(digest)
        staged = self._staged_path(upload_id)
        target = self._blob_path(digest)
        with self._lock:
            cached = self._hashes.pop(upload_id, None)
        try:
            fd = os.open(staged, os.O_RDONLY)
        except FileNotFoundError:
            if target.exists():
                return  # finished before: repeating is harmless
            raise UploadNotFound(f"upload {upload_id} has no staged data") from None
        try:
            try:
                # Held until the rename: no writer can append to bytes being verified.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadConflict(
                    f"upload {upload_id} is being written by another request"
                ) from None
            st = os.fstat(fd)
            actual_size = st.st_size
            if actual_size != size:
                self.abort_upload(upload_id)
                raise SizeMismatch(
                    f"received {actual_size} bytes, declared {size}",
                    expected=size,
                    actual=actual_size,
                )
            if cached is not None and cached[0] == _identity(st):
                actual = from_hasher(cached[1])
            else:
                actual = _hash_fd(fd, direct=self.direct_io)
            if actual != digest:
                self.abort_upload(upload_id)
                raise DigestMismatch(
                    f"received bytes hash to {actual}, declared {digest}",
                    expected=digest,
                    actual=actual,
                )
            if self.fsync:
                os.fsync(fd)
            if target.exists():
                self.abort_upload(upload_id)
                return
            target.parent.mkdir(exist_ok=True)
            try:
                os.replace(staged, target)
            except FileNotFoundError:
                if target.exists():
                    return  # another finisher of the same session won the race
                raise
        finally:
            os.close(fd)
        if self.fsync:
            _fsync_dir(target.parent)

    def abort_upload(self, upload_id: str) -> None:
        with self._lock:
            self._hashes.pop(upload_id, None)
        with contextlib.suppress(FileNotFoundError):
            self._staged_path(upload_id).unlink()

    def iter_staged(self) -> Iterator[StagedInfo]:
        for entry in os.scandir(self.root / paths.UPLOADS):
            try:
                paths.check_upload_id(entry.name)
            except UploadNotFound:
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # finished or discarded since the directory was listed
            yield StagedInfo(entry.name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))


class _LocalUploadWriter:
    def __init__(
        self,
        store: LocalBlobStore,
        upload_id: str,
        fd: int,
        appender: DirectAppender,
        hasher: hashlib._Hash | None,
    ) -> None:
        self._store = store
        self._upload_id = upload_id
        self._fd: int | None = fd
        self._start = appender.size
        self._appender = appender
        self._hasher = PipelinedHasher(hasher) if hasher is not None else None

    def write(self, data: bytes | memoryview) -> None:
        if self._fd is None:
            raise ValueError("writer is closed")
        if self._hasher is not None:
            self._hasher.update(data)  # hashed in a helper thread while we write
        try:
            self._appender.write(data)
        except OSError as exc:
            if exc.errno in OUT_OF_SPACE:
                raise self._give_up(exc) from exc
            raise

    def close(self) -> int:
        """Write what is buffered and release the session; keeps what arrived."""
        if self._fd is not None:
            try:
                self._appender.close()
                identity = _identity(os.fstat(self._fd))
            except OSError as exc:
                if exc.errno in OUT_OF_SPACE:
                    raise self._give_up(exc) from exc
                raise
            finally:
                if self._fd is not None:
                    os.close(self._fd)  # releases the flock
                    self._fd = None
            hasher = self._hasher.wait() if self._hasher is not None else None
            self._store._remember_hash(self._upload_id, identity, hasher)
        return self._appender.size

    def _give_up(self, exc: OSError) -> InsufficientStorage:
        """Out of space: drop this writer's bytes (the session is as it was when it was
        opened, and can resume there) and release it."""
        assert self._fd is not None
        self._appender.abandon(self._start)
        try:
            os.ftruncate(self._fd, self._start)  # shrinking a file needs no space
        finally:
            os.close(self._fd)
            self._fd = None
        if self._hasher is not None:
            self._hasher.wait()
        self._store._remember_hash(self._upload_id, (0, 0, 0), None)
        return self._store._full(exc)


_Identity = tuple[int, int, int]


def _identity(st: os.stat_result) -> _Identity:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read_range(fd: int, offset: int, length: int | None, *, direct: bool) -> Iterator[bytes]:
    """The file's bytes in chunks, the next one read while the caller sends this one."""
    reader = DirectReader(fd, chunk=READ_CHUNK, direct=direct)
    try:
        yield from reader.chunks(offset, length)
    finally:
        reader.close()
        os.close(fd)


def _hash_fd(fd: int, *, direct: bool) -> str:
    hasher = hashlib.sha256()
    reader = DirectReader(fd, chunk=READ_CHUNK, direct=direct)
    try:
        for chunk in reader.chunks():
            hasher.update(chunk)
    finally:
        reader.close()
    return from_hasher(hasher)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
