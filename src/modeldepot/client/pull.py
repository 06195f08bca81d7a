"""Pull: fetch a version's files in parallel, verify every digest, never write outside
the target directory, and reuse the local content-addressed cache.

Each blob is downloaded to a temporary file, hashed while it streams, resumed with a
Range request after a broken connection, and kept only if its digest matches.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modeldepot.client.cache import BlobCache
from modeldepot.client.http import Http
from modeldepot.client.progress import Progress
from modeldepot.digest import PipelinedHasher
from modeldepot.errors import DigestMismatch, PathInvalid, ServerUnreachable, SizeMismatch
from modeldepot.manifest import normalize_path
from modeldepot.overlap import Behind
from modeldepot.schemas import ManifestRead

MAX_ATTEMPTS = 8


def pull(
    http: Http,
    manifest: ManifestRead,
    dest: Path,
    *,
    cache: BlobCache | None,
    workers: int,
    progress: Progress,
) -> list[Path]:
    """Write every file of ``manifest`` under ``dest``; return the paths written."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    targets = [(entry, safe_target(root, entry.path)) for entry in manifest.files]
    sizes = {entry.digest: entry.size for entry in manifest.files}
    if cache is not None:
        todo = {d: s for d, s in sizes.items() if not cache.has(d, s)}
    else:
        todo = dict(sizes)
    progress.begin("download", sum(todo.values()))
    staging = (
        cache.temp_path if cache is not None else (lambda: root / f".modeldepot-{uuid.uuid4().hex}")
    )

    def fetch(digest: str) -> tuple[str, Path]:
        temp = staging()
        download_blob(http, digest, todo[digest], temp, progress)
        return digest, cache.adopt(temp, digest) if cache is not None else temp

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        fetched = dict(pool.map(fetch, todo))
    progress.end()
    try:
        placed: dict[str, Path] = {}
        for entry, target in targets:
            if cache is not None:
                _place(cache.path(entry.digest), target)
            elif entry.digest in placed:
                _place(placed[entry.digest], target)  # same content twice in one version
            else:
                os.replace(fetched[entry.digest], target)  # no cache: each byte written once
                placed[entry.digest] = target
    finally:
        if cache is None:
            for temp in fetched.values():
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
    return [target for _, target in targets]


def safe_target(root: Path, path: str) -> Path:
    """Where ``path`` goes under ``root``; PathInvalid if it could land outside it."""
    normalized = normalize_path(path)
    target = root.joinpath(*normalized.split("/"))
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not parent.resolve().is_relative_to(root):
        raise PathInvalid(f"file path {path!r} would be written outside {root} (through a link)")
    if target.is_dir() and not target.is_symlink():
        raise PathInvalid(f"file path {path!r} names an existing directory in {root}")
    return target


def download_blob(http: Http, digest: str, size: int, temp: Path, progress: Progress) -> None:
    """Download ``digest`` into ``temp``, resuming after broken connections, verified.

    Receiving, writing and hashing overlap: each chunk is written and hashed in helper
    threads while the next one arrives.
    """
    hasher = PipelinedHasher()
    received = 0
    try:
        with open(temp, "wb") as out:
            write = Behind(out.write)
            try:
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    headers = {"Range": f"bytes={received}-"} if received else None
                    try:
                        with http.stream(f"/blobs/{digest}", headers=headers) as response:
                            if received and response.status_code != 206:
                                # The server ignored the range: start over.
                                write.wait()
                                out.seek(0)
                                out.truncate()
                                hasher.wait()
                                hasher = PipelinedHasher()
                                progress.advance(-received)
                                received = 0
                            for chunk in response.iter_raw(1024 * 1024):
                                write(chunk)
                                hasher.update(chunk)
                                received += len(chunk)
                                progress.advance(len(chunk))
                        break
                    except ServerUnreachable:
                        if attempt == MAX_ATTEMPTS:
                            raise
                        time.sleep(min(0.2 * 2**attempt, 3.0))
            finally:
                write.wait()  # never close the file under a pending write
        if received != size:
            raise SizeMismatch(f"blob {digest}: received {received} bytes, expected {size}")
        actual = hasher.digest()
        if actual != digest:
            raise DigestMismatch(f"blob {digest}: received bytes hash to {actual}")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def _place(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically, replacing a file or link there."""
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
