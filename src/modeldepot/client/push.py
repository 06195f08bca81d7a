"""Push: hash local files, upload only the blobs the server lacks, commit the manifest.

Small blobs go up in one PUT; large ones through a resumable session that continues
from the server's offset after a broken connection. When the server offers presigned
transfers (an S3 blob store), every non-empty blob goes straight to the store instead,
in parts sent in parallel to presigned URLs; after an interruption only the parts the
store lacks are sent again. Every byte is verified by the server before it is stored;
the version appears only when the manifest commits.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from modeldepot.client.http import Http, segment
from modeldepot.client.progress import Progress
from modeldepot.digest import PipelinedHasher
from modeldepot.errors import (
    BlobNotFound,
    InvalidInput,
    ServerUnreachable,
    UploadConflict,
    UploadIncomplete,
    UploadNotFound,
    UploadOffsetMismatch,
)
from modeldepot.manifest import Manifest, ManifestEntry, guess_media_type, normalize_path
from modeldepot.schemas import FileEntry, UploadRead, VersionCreate, VersionRead
from modeldepot.schemas.lineage import FormatInfo

# Blobs at least this large use a resumable upload session.
SESSION_THRESHOLD = 64 * 1024 * 1024
# Bytes per read while hashing a file (two buffers: one read while the other is hashed).
HASH_CHUNK = 4 * 1024 * 1024
MAX_ATTEMPTS = 8
# How long a push waits for a session another writer holds (UPLOAD_BUSY).
BUSY_PATIENCE = 60.0


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: str
    source: Path
    size: int
    digest: str


def scan(root: Path, exclude: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """The files to push: ``root`` itself, or every regular file below it, as (path, source)."""
    if root.is_file():
        return [(root.name, root)]
    if not root.is_dir():
        raise InvalidInput(f"{root} is neither a file nor a directory")
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            source = Path(folder) / name
            relative = source.relative_to(root).as_posix()
            if any(fnmatch.fnmatch(relative, pattern) for pattern in exclude):
                continue
            if not source.is_file():
                continue  # sockets, broken links and the like
            found.append((normalize_path(relative), source))
    if not found:
        raise InvalidInput(f"{root} holds no files to push")
    return found


def hash_files(files: list[tuple[str, Path]], workers: int, progress: Progress) -> list[LocalFile]:
    sizes = [source.stat().st_size for _, source in files]
    progress.begin("hash", sum(sizes))

    def one(item: tuple[str, Path]) -> LocalFile:
        path, source = item
        hasher = PipelinedHasher()
        size = 0
        # Two buffers: one is hashed in a helper while the next is read into the other.
        buffers = [memoryview(bytearray(HASH_CHUNK)) for _ in range(2)]
        turn = 0
        with open(source, "rb", buffering=0) as fileobj:
            while n := fileobj.readinto(buffers[turn]):
                hasher.update(buffers[turn][:n])
                size += n
                progress.advance(n)
                turn ^= 1
        return LocalFile(path, source, size, hasher.digest())

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        hashed = list(pool.map(one, files))
    progress.end()
    return hashed


def build_manifest(files: list[LocalFile]) -> Manifest:
    return Manifest.build(
        ManifestEntry(f.path, f.size, f.digest, guess_media_type(f.path)) for f in files
    )


def upload_missing(http: Http, files: list[LocalFile], workers: int, progress: Progress) -> int:
    """Upload the blobs the server lacks; return how many bytes were sent."""
    by_digest = {f.digest: f for f in files}
    missing = _missing(http, list(by_digest))
    todo = [by_digest[d] for d in missing]
    total = sum(f.size for f in todo)
    progress.begin("upload", total)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(lambda f: upload_blob(http, f, progress, workers), todo))
    progress.end()
    return total


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
    workers: int,
    progress: Progress,
    detect_format: Callable[[Path, list[str]], FormatInfo | None] | None = None,
) -> VersionRead:
    scanned = scan(root, exclude)
    if detect_format is not None:
        base = root if root.is_dir() else root.parent
        found = detect_format(base, [path for path, _ in scanned])
        if found is not None:
            lineage = data.lineage.model_copy(update={"format": found})
            data = data.model_copy(update={"lineage": lineage})
    files = hash_files(scanned, workers, progress)
    manifest = build_manifest(files)
    upload_missing(http, files, workers, progress)
    try:
        return commit(http, name, manifest, data)
    except BlobNotFound:
        # A collector removed a blob between our check and the commit: send it again.
        upload_missing(http, files, workers, progress)
        return commit(http, name, manifest, data)


def upload_blob(http: Http, file: LocalFile, progress: Progress, workers: int = 4) -> None:
    if http.presigned and file.size > 0:
        session = _open_session(http, file, presigned=True)
        if session.presigned is not None:
            _upload_presigned(http, file, session, progress, workers)
            return
        http.presigned = False  # not offered: the server relays bytes
        _upload_resumable(http, file, progress, session)
    elif file.size < SESSION_THRESHOLD:
        _upload_whole(http, file, progress)
    else:
        _upload_resumable(http, file, progress)


def _missing(http: Http, digests: list[str]) -> list[str]:
    missing: list[str] = []
    for start in range(0, len(digests), 5000):
        batch = digests[start : start + 5000]
        response = http.request("POST", "/blobs/missing", json={"digests": batch}, idempotent=True)
        missing.extend(response.json()["missing"])
    return missing


def _upload_whole(http: Http, file: LocalFile, progress: Progress) -> None:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        sent = [0]
        try:
            http.send_file(
                "PUT",
                f"/blobs/{file.digest}",
                file.source,
                0,
                file.size,
                headers={"Content-Type": "application/octet-stream"},
                sent=_counter(progress, sent),
            )
            return
        except (ServerUnreachable, UploadNotFound):
            # UploadNotFound: a collection raced this upload; sending it again is safe.
            progress.advance(-sent[0])
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(min(0.2 * 2**attempt, 3.0))


def _upload_resumable(
    http: Http, file: LocalFile, progress: Progress, session: UploadRead | None = None
) -> None:
    session = session or _open_session(http, file)
    offset = 0
    sent_total = 0
    busy_until = time.monotonic() + BUSY_PATIENCE
    attempt = 0
    while attempt < MAX_ATTEMPTS:
        attempt += 1
        try:
            if offset < file.size:
                sent = [0]
                try:
                    http.send_file(
                        "PATCH",
                        f"/uploads/{session.id}",
                        file.source,
                        offset,
                        file.size - offset,
                        headers={
                            "Upload-Offset": str(offset),
                            "Content-Type": "application/octet-stream",
                        },
                        sent=_counter(progress, sent),
                    )
                finally:
                    sent_total += sent[0]
            http.request("POST", f"/uploads/{session.id}/complete", idempotent=True)
            return
        except UploadOffsetMismatch as exc:
            offset = int(exc.extra.get("offset", 0))
        except UploadConflict:
            # Another writer holds the session: typically a server that died mid-upload,
            # whose hold lapses (30 s on S3). Wait for it, without spending an attempt.
            if time.monotonic() > busy_until:
                raise
            attempt -= 1
            time.sleep(1.0)
            offset = _session_state(http, session.id).offset
        except UploadNotFound:
            session = _open_session(http, file)
            offset = 0
        except ServerUnreachable:
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(min(0.2 * 2**attempt, 3.0))
            state = _session_state(http, session.id)
            offset = state.offset
        # Count only the bytes the server kept.
        progress.advance(offset - sent_total)
        sent_total = offset
    raise ServerUnreachable(f"upload of {file.path} did not finish after {MAX_ATTEMPTS} attempts")


def _open_session(http: Http, file: LocalFile, *, presigned: bool = False) -> UploadRead:
    body = {"digest": file.digest, "size": file.size, "presigned": presigned}
    response = http.request("POST", "/uploads", json=body, idempotent=True)
    return UploadRead.model_validate(response.json())


# Parts whose URLs are asked for at once: few enough that they are used long before
# they expire (64 parts are 1 GiB or more), many enough to keep every worker busy.
PART_URL_BATCH = 64


def _upload_presigned(
    http: Http, file: LocalFile, session: UploadRead, progress: Progress, workers: int
) -> None:
    """Send the parts the store lacks straight to it, in parallel, then complete.

    A failed part is sent again with a fresh URL (an expired URL fails too); a session
    that vanished (expired or collected) is opened again from scratch.
    """
    counted = [0]  # bytes of parts stored, as shown on the progress bar
    lock = threading.Lock()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            if attempt > 1:
                session = _session_state(http, session.id)  # which parts arrived
            plan = session.presigned
            assert plan is not None
            done = set(plan.parts_done)
            todo = [n for n in range(1, plan.part_count + 1) if n not in done]
            for start in range(0, len(todo), PART_URL_BATCH):
                batch = todo[start : start + PART_URL_BATCH]
                urls = http.request(
                    "POST",
                    f"/uploads/{session.id}/parts",
                    json={"numbers": batch},
                    idempotent=True,
                ).json()["urls"]

                def put(
                    number: int, urls: dict[str, str] = urls, size: int = plan.part_size
                ) -> None:
                    sent = _put_part(http, file, size, number, urls[str(number)], progress)
                    with lock:
                        counted[0] += sent

                with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batch)))) as pool:
                    list(pool.map(put, batch))
            http.request("POST", f"/uploads/{session.id}/complete", idempotent=True)
            return
        except UploadNotFound:
            session = _open_session(http, file, presigned=True)
            if session.presigned is None:
                _upload_resumable(http, file, progress, session)
                return
            progress.advance(-counted[0])  # the new session starts from nothing
            counted[0] = 0
        except (ServerUnreachable, UploadIncomplete):
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(min(0.2 * 2**attempt, 3.0))
    raise ServerUnreachable(f"upload of {file.path} did not finish after {MAX_ATTEMPTS} attempts")


def _put_part(
    http: Http, file: LocalFile, part_size: int, number: int, url: str, progress: Progress
) -> int:
    """PUT part ``number`` of ``file`` and return its size; on failure, take its bytes
    back off the progress."""
    offset = (number - 1) * part_size
    length = min(part_size, file.size - offset)
    sent = [0]
    try:
        http.send_file(
            "PUT", url, file.source, offset, length, sent=_counter(progress, sent), store=True
        )
    except BaseException:
        progress.advance(-sent[0])
        raise
    return length


def _session_state(http: Http, upload_id: str) -> UploadRead:
    return UploadRead.model_validate(http.request("GET", f"/uploads/{upload_id}").json())


def _counter(progress: Progress, sent: list[int]) -> Callable[[int], None]:
    """Count bytes sent into ``sent[0]`` and onto the progress bar."""

    def count(n: int) -> None:
        sent[0] += n
        progress.advance(n)

    return count
