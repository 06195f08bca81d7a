"""Push: hash local files, upload only the blobs the server lacks, commit the manifest.

A large file the server certainly lacks (no stored blob has its size and sample digest,
see ``modeldepot.sample``) is *streamed*: sent while a helper hashes it, its digest
named when the upload completes, so its bytes are read once before they leave instead
of twice. Every other file is hashed first and sent only if the server lacks its digest;
the server is asked about hashed files in batches, so uploads start while later files
are still being hashed. How each blob goes up is ``modeldepot.client.upload``'s job.
Every byte is verified by the server before it is stored; the version appears only when
the manifest commits.
"""

from __future__ import annotations

import fnmatch
import os
import queue
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from modeldepot.client.http import Http, segment
from modeldepot.client.progress import Progress
from modeldepot.client.upload import SESSION_THRESHOLD, LocalFile, missing_digests, upload_blob
from modeldepot.digest import PipelinedHasher
from modeldepot.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidInput,
    SymlinkOutside,
)
from modeldepot.manifest import (
    Manifest,
    ManifestEntry,
    check_layout,
    guess_media_type,
    portable_path,
)
from modeldepot.sample import has_sample, sample_of_file
from modeldepot.schemas import FileEntry, VersionCreate, VersionRead
from modeldepot.schemas.lineage import FormatInfo

# Files at least this large are streamed when the server certainly lacks them.
STREAM_THRESHOLD = SESSION_THRESHOLD
# Bytes per read while hashing a file (two buffers: one read while the other is hashed).
HASH_CHUNK = 4 * 1024 * 1024
# Hashed files are asked about (and their uploads started) in batches of this many
# bytes or files, whichever comes first, or when no file finished hashing for this long.
BATCH_BYTES = 64 * 1024 * 1024
BATCH_FILES = 1000
BATCH_WAIT = 0.1
# Commits tried when collections keep removing freshly uploaded blobs before it lands.
COMMIT_ATTEMPTS = 5


def scan(
    root: Path, exclude: Sequence[str] = (), *, follow_symlinks: bool = False
) -> list[tuple[str, Path]]:
    """The files to push: ``root`` itself, or every regular file below it, as (path, source).

    Every path obeys the commit rules (``portable_path``, ``check_layout``), so a push
    the server would refuse is refused before any byte is read or sent. A symbolic link
    to a file is pushed as the file; one that leads outside ``root`` raises
    SymlinkOutside naming it, unless ``follow_symlinks``. With ``follow_symlinks``
    links to directories are walked too, each directory once.
    """
    if root.is_file():
        return [(portable_path(root.name), root)]
    if not root.is_dir():
        raise InvalidInput(f"{root} is neither a file nor a directory")
    real_root = root.resolve()
    found: list[tuple[str, Path]] = []
    for relative, item in _walk(root, follow_symlinks=follow_symlinks):
        if any(fnmatch.fnmatch(relative, pattern) for pattern in exclude):
            continue
        if not item.is_file():
            continue  # sockets, broken links and the like
        source = Path(item.path)
        if item.is_symlink() and not follow_symlinks:
            real = source.resolve()
            if not real.is_relative_to(real_root):
                raise SymlinkOutside(
                    f"{relative!r} is a symbolic link to {real}, outside {root}; pass "
                    "--follow-symlinks (follow_symlinks=True) to push what it points at",
                    path=relative,
                )
        found.append((portable_path(relative), source))
    if not found:
        raise InvalidInput(f"{root} holds no files to push")
    check_layout(path for path, _ in found)
    return found


def _walk(root: Path, *, follow_symlinks: bool) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry below ``root`` that is not a directory, as (relative POSIX path,
    entry), depth first in name order. Links to directories are walked only with
    ``follow_symlinks``, and then each directory once: a link back up the tree would
    loop forever. Directory entries carry their type, so no file costs a stat here."""
    walked: set[tuple[int, int]] = set()
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        folder, prefix = stack.pop()
        if follow_symlinks:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in walked:
                continue
            walked.add((info.st_dev, info.st_ino))
        with os.scandir(folder) as entries:
            ordered = sorted(entries, key=lambda entry: entry.name)
        below: list[tuple[str, str]] = []
        for entry in ordered:
            relative = prefix + entry.name
            if entry.is_dir():
                if follow_symlinks or not entry.is_symlink():
                    below.append((entry.path, relative + "/"))
            else:
                yield relative, entry
        stack.extend(reversed(below))


def hash_file(path: str, source: Path, advance: Callable[[int], None] | None = None) -> LocalFile:
    """Read ``source`` once and hash it; ``advance(n)`` reports the bytes read."""
    hasher = PipelinedHasher()
    size = 0
    # Two buffers: one is hashed in a helper while the next is read into the other.
    buffers = [memoryview(bytearray(HASH_CHUNK)) for _ in range(2)]
    turn = 0
    with open(source, "rb", buffering=0) as fileobj:
        while n := fileobj.readinto(buffers[turn]):
            hasher.update(buffers[turn][:n])
            size += n
            if advance is not None:
                advance(n)
            turn ^= 1
    return LocalFile(path, source, size, hasher.digest())


def absent_files(http: Http, files: Sequence[tuple[str, Path]]) -> list[int]:
    """Positions of the large files the server certainly lacks, by size and sample.

    Files that look alike (same size and sample) are left out, so that each distinct
    blob goes up once.
    """
    candidates: list[tuple[int, int, str]] = []
    for index, (_, source) in enumerate(files):
        size = source.stat().st_size
        if size < STREAM_THRESHOLD or not has_sample(size):
            continue
        with open(source, "rb", buffering=0) as fileobj:
            try:
                candidates.append((index, size, sample_of_file(fileobj.fileno(), size)))
            except ValueError:
                continue  # shrank meanwhile: hashing it first gives what it holds now
    alike = Counter((size, sample) for _, size, sample in candidates)
    candidates = [c for c in candidates if alike[c[1:]] == 1]
    if not candidates:
        return []
    query = {"files": [{"size": size, "sample": sample} for _, size, sample in candidates]}
    response = http.request("POST", "/blobs/absent", json=query, idempotent=True)
    return [candidates[position][0] for position in response.json()["absent"]]


def stream_file(
    http: Http,
    path: str,
    source: Path,
    progress: Progress,
    workers: int = 4,
    model: str | None = None,
) -> LocalFile:
    """Upload a file the server lacks while a helper hashes it; return it with its digest.

    The digest is named when the upload completes; the server verifies the bytes it
    received against it, so a file changed during the upload is refused, not stored.
    """
    size = source.stat().st_size
    with ThreadPoolExecutor(max_workers=1) as hashing:
        later = hashing.submit(hash_file, path, source)
        file = LocalFile(path, source, size, "")
        try:
            upload_blob(http, file, progress, workers, model=model, later=later)
        except DigestMismatch as exc:
            raise DigestMismatch(
                f"{source} changed while it was pushed: the server received other bytes "
                "than were hashed; nothing was stored"
            ) from exc
        finally:
            hashed = later.result()  # wait for the helper even when the upload failed
    # The server received ``size`` bytes hashing to ``hashed.digest``: the file as sent.
    return hashed


def send_files(
    http: Http,
    files: Sequence[tuple[str, Path]],
    streamed: Sequence[tuple[str, Path]],
    workers: int,
    progress: Progress,
    model: str | None = None,
) -> tuple[list[LocalFile], list[LocalFile]]:
    """Hash ``files`` and upload the blobs the server lacks while the rest are still
    being hashed; stream ``streamed`` alongside, all for ``model``. Return both with
    their digests.

    Hashed files are asked about (``/blobs/missing``) in batches of ``BATCH_BYTES`` or
    ``BATCH_FILES``, or after ``BATCH_WAIT`` seconds, so the first uploads start long
    before the last file is hashed. A digest met twice is asked about and sent once.
    Progress is one ``push`` phase over every byte: a file the server already holds
    is skipped (``Progress.skip``) once hashed.
    """
    total = sum(source.stat().st_size for _, source in (*files, *streamed))
    progress.begin("push", total)
    hashing = ThreadPoolExecutor(max_workers=max(1, workers))
    sending = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        streaming = [
            sending.submit(stream_file, http, path, source, progress, workers, model)
            for path, source in streamed
        ]
        finished: queue.SimpleQueue[Future[LocalFile]] = queue.SimpleQueue()
        futures = [hashing.submit(hash_file, path, source) for path, source in files]
        for future in futures:
            future.add_done_callback(finished.put)
        asked: set[str] = set()
        uploads: list[Future[None]] = []
        for batch in _batches(finished, len(futures)):
            fresh: dict[str, LocalFile] = {}
            for file in batch:
                if file.digest in asked or file.digest in fresh:
                    progress.skip(file.size)  # the same bytes are asked about and sent once
                else:
                    fresh[file.digest] = file
            asked.update(fresh)
            lacking = set(missing_digests(http, list(fresh))) if fresh else set()
            for digest, file in fresh.items():
                if digest in lacking:
                    uploads.append(
                        sending.submit(upload_blob, http, file, progress, workers, model=model)
                    )
                else:
                    progress.skip(file.size)  # the server holds them already
        for upload in uploads:
            upload.result()
        sent = [future.result() for future in streaming]
        hashed = [future.result() for future in futures]
    except BaseException:
        hashing.shutdown(wait=True, cancel_futures=True)
        sending.shutdown(wait=True, cancel_futures=True)
        raise
    hashing.shutdown()
    sending.shutdown()
    progress.end()
    return hashed, sent


def _batches(
    finished: queue.SimpleQueue[Future[LocalFile]], count: int
) -> Iterator[list[LocalFile]]:
    """The ``count`` hashed files, in batches as they finish: a batch ends at
    ``BATCH_BYTES`` or ``BATCH_FILES``, after ``BATCH_WAIT`` seconds without another
    file, or with the last file. A failed hash raises here."""
    batch: list[LocalFile] = []
    size = 0
    while count:
        try:
            file = finished.get(timeout=BATCH_WAIT if batch else None).result()
        except queue.Empty:
            yield batch
            batch, size = [], 0
            continue
        count -= 1
        batch.append(file)
        size += file.size
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def build_manifest(files: list[LocalFile]) -> Manifest:
    return Manifest.build(
        ManifestEntry(f.path, f.size, f.digest, guess_media_type(f.path)) for f in files
    )


def upload_missing(
    http: Http, files: list[LocalFile], workers: int, progress: Progress, model: str | None = None
) -> None:
    """Upload the blobs among ``files`` that the server lacks, for ``model`` (an
    ``upload`` phase)."""
    by_digest = {f.digest: f for f in files}
    todo = [by_digest[d] for d in missing_digests(http, list(by_digest))]
    progress.begin("upload", sum(f.size for f in todo))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(lambda f: upload_blob(http, f, progress, workers, model=model), todo))
    progress.end()


def commit(http: Http, name: str, manifest: Manifest, data: VersionCreate) -> VersionRead:
    """Commit the version; retried safely thanks to the push id."""
    body = data.model_copy(
        update={
            "files": [
                FileEntry(path=e.path, size=e.size, digest=e.digest, media_type=e.media_type)
                for e in manifest.entries
            ],
            "push_id": data.push_id or uuid.uuid4().hex,
        }
    )
    payload = body.model_dump(mode="json")
    response = http.request(
        "POST", f"/models/{segment(name)}/-/versions", json=payload, idempotent=True
    )
    return VersionRead.model_validate(response.json())


def push(
    http: Http,
    root: Path,
    name: str,
    data: VersionCreate,
    *,
    exclude: Sequence[str] = (),
    follow_symlinks: bool = False,
    workers: int,
    progress: Progress,
    detect_format: Callable[[Path, list[str]], FormatInfo | None] | None = None,
) -> VersionRead:
    scanned = scan(root, exclude, follow_symlinks=follow_symlinks)
    if detect_format is not None:
        base = root if root.is_dir() else root.parent
        found = detect_format(base, [path for path, _ in scanned])
        if found is not None:
            lineage = data.lineage.model_copy(update={"format": found})
            data = data.model_copy(update={"lineage": lineage})
    absent = set(absent_files(http, scanned))
    streamed = [item for index, item in enumerate(scanned) if index in absent]
    rest = [item for index, item in enumerate(scanned) if index not in absent]
    hashed, sent = send_files(http, rest, streamed, workers, progress, name)
    by_path = {f.path: f for f in hashed + sent}
    files = [by_path[path] for path, _ in scanned]
    manifest = build_manifest(files)
    for _ in range(COMMIT_ATTEMPTS - 1):
        try:
            return commit(http, name, manifest, data)
        except BlobNotFound:
            # A collection (with a short grace period) removed a blob between its
            # upload and the commit: send it again. The commit is idempotent (push id).
            upload_missing(http, files, workers, progress, name)
    return commit(http, name, manifest, data)
