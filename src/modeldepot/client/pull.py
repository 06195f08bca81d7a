"""Pull: fetch a version's files in parallel, verify every digest, never write outside
the target directory, and reuse the local content-addressed cache.

Each blob is downloaded to a temporary file, hashed while it streams, resumed with a
Range request after a broken connection, and kept only if its digest matches. When the
server offers presigned transfers, the bytes come straight from the blob store; if the
store cannot be reached, the download continues through the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modeldepot import directio
from modeldepot.client.cache import BlobCache
from modeldepot.client.http import Http
from modeldepot.client.progress import Progress
from modeldepot.digest import PipelinedHasher
from modeldepot.errors import (
    DigestMismatch,
    IsADirectory,
    NotADirectory,
    PathConflict,
    PathInvalid,
    PresignedUnavailable,
    ServerUnreachable,
    SizeMismatch,
)
from modeldepot.manifest import check_layout, normalize_path, windows_problem
from modeldepot.overlap import Behind
from modeldepot.schemas import ManifestRead

MAX_ATTEMPTS = 8
# Whether file names here obey Windows' rules; a module constant so that tests can
# check, on any machine, what a pull refuses on Windows.
WINDOWS = os.name == "nt"


def pull(
    http: Http,
    manifest: ManifestRead,
    dest: Path,
    *,
    cache: BlobCache | None,
    workers: int,
    progress: Progress,
    direct_io: bool = True,
) -> list[Path]:
    """Write every file of ``manifest`` under ``dest``; return the paths written.

    Where every file goes is checked before anything is created (see ``plan_targets``).
    """
    paths = check_paths([entry.path for entry in manifest.files])
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    targets = list(zip(manifest.files, plan_targets(root, paths), strict=True))
    sizes = {entry.digest: entry.size for entry in manifest.files}
    if cache is not None:
        todo = {d: s for d, s in sizes.items() if not cache.has(d, s)}
    else:
        todo = dict(sizes)
    urls = presigned_urls(http, list(todo))
    progress.begin("download", sum(sizes.values()))
    progress.skip(sum(sizes.values()) - sum(todo.values()))  # what the cache holds
    first: dict[str, Path] = {}
    for entry, target in targets:
        first.setdefault(entry.digest, target)

    def fetch(digest: str) -> tuple[str, Path]:
        """Download into a temp beside the digest's first target, and into the cache
        at the same time (each chunk goes to both files): no second pass to copy.
        The target comes first: it is the file written with direct I/O."""
        beside = _part_path(first[digest])
        staged = [beside] if cache is None else [beside, cache.temp_path()]
        download_blob(
            http, digest, todo[digest], staged, progress, urls.get(digest), direct_io=direct_io
        )
        if cache is not None:
            cache.adopt(staged[1], digest)
        return digest, beside

    fetched: dict[str, Path] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            fetched = dict(pool.map(fetch, todo))
        progress.end()
        placed: dict[str, Path] = {}
        for entry, target in targets:
            digest = entry.digest
            if digest in fetched and digest not in placed:
                os.replace(fetched[digest], target)
                placed[digest] = target
            elif cache is not None:
                _place(cache.path(digest), target)
            else:
                _place(placed[digest], target)  # same content twice in one version
    finally:
        for temp in fetched.values():
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    return [target for _, target in targets]


def check_paths(paths: Sequence[str]) -> list[str]:
    """The normalised ``paths`` of a stored version, if this machine can write them all
    as files of one tree (before looking at any directory): PathInvalid for a path that
    is unsafe, or that Windows cannot hold when running on Windows; PathConflict for a
    path that is both a file and a directory.

    Stored versions may predate the commit rules (``modeldepot.manifest``), so only
    what this machine cannot write is refused: ``Model.bin`` and ``model.bin`` stay
    pullable where case matters (see ``plan_targets``).
    """
    normalized = [normalize_path(path) for path in paths]
    if WINDOWS:
        for path in normalized:
            problem = windows_problem(path)
            if problem is not None:
                raise PathInvalid(f"file path {path!r} {problem}; it cannot be pulled here")
    check_layout(normalized, fold=False)
    return normalized


def plan_targets(root: Path, paths: Sequence[str]) -> list[Path]:
    """Where each of the normalised ``paths`` goes under the resolved ``root``, checked
    for every path before any directory is created, then with their directories made.

    Raises PathInvalid if a path would land outside ``root`` (through a symbolic link
    in it), NotADirectory or IsADirectory if something in ``root`` stands in the way,
    PathConflict if two paths differ only by case and ``root`` ignores case.
    """
    parents: dict[str, Path] = {}
    for path in paths:
        parent = path.rpartition("/")[0]
        if parent not in parents:
            folder = root.joinpath(*parent.split("/")) if parent else root
            # Resolving follows the links that exist and appends what does not yet.
            if not folder.resolve().is_relative_to(root):
                raise PathInvalid(
                    f"file path {path!r} would be written outside {root} (through a link)"
                )
            parents[parent] = folder
    seen: set[str] = set()
    for parent in parents:
        # Every directory on the way that exists already must be a directory.
        cut = len(parent)
        while cut > 0 and parent[:cut] not in seen:
            seen.add(parent[:cut])
            folder = root.joinpath(*parent[:cut].split("/"))
            if folder.exists() and not folder.is_dir():
                raise NotADirectory(
                    f"{folder} is a file, but the version has files under {parent[:cut]!r}"
                )
            cut = parent.rfind("/", 0, cut)
    targets = [root.joinpath(*path.split("/")) for path in paths]
    for target in targets:
        if target.is_dir() and not target.is_symlink():
            raise IsADirectory(f"{target} is a directory, but the version has a file there")
    try:
        check_layout(paths)
    except PathConflict:
        if _ignores_case(root):
            raise
    for folder in parents.values():
        folder.mkdir(parents=True, exist_ok=True)
    return targets


def _ignores_case(root: Path) -> bool:
    """Whether the filesystem of ``root`` treats names differing by case as one."""
    probe = root / f".modeldepot-case-{uuid.uuid4().hex[:8]}"
    probe.touch(exist_ok=False)
    try:
        return (root / probe.name.upper()).exists()
    finally:
        probe.unlink()


URL_BATCH = 10_000


def presigned_urls(http: Http, digests: list[str]) -> dict[str, str]:
    """Presigned download URLs for ``digests``, or none if the server does not offer them."""
    urls: dict[str, str] = {}
    if not http.presigned or not digests:
        return urls
    for start in range(0, len(digests), URL_BATCH):
        batch = digests[start : start + URL_BATCH]
        try:
            response = http.request("POST", "/blobs/urls", json={"digests": batch}, idempotent=True)
        except PresignedUnavailable:  # what earlier servers answered
            http.presigned = False
            return {}
        found = response.json()["urls"]
        if not found:  # the server relays blob bytes itself: ask no more
            http.presigned = False
            return {}
        urls.update(found)
    return urls


def download_blob(
    http: Http,
    digest: str,
    size: int,
    temps: Sequence[Path],
    progress: Progress,
    url: str | None = None,
    *,
    direct_io: bool = True,
) -> None:
    """Download ``digest`` into every file of ``temps``, resuming after broken
    connections, verified; on any failure none of them is left behind.

    With a presigned ``url`` the bytes come from the blob store; once the store fails,
    the rest comes through the server.

    Receiving, writing and hashing overlap: each chunk is written (to each file) and
    hashed in helper threads while the next one arrives.

    With ``direct_io`` the first file (the pull's own target) is written with direct
    I/O. The others (the cache's copy) go through the page cache: the cache is there
    to be read again, and copying out of it is then a copy within the page cache.
    """
    hasher = PipelinedHasher()
    received = 0
    with contextlib.ExitStack() as files:
        try:
            outs = [
                files.enter_context(_Output(temp, direct=direct_io and n == 0))
                for n, temp in enumerate(temps)
            ]
            writers = [Behind(out.write) for out in outs]
            try:
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    headers = {"Range": f"bytes={received}-"} if received else None
                    source = (
                        http.download(url, headers=headers, store=True)
                        if url is not None
                        else http.download(f"/blobs/{digest}", headers=headers)
                    )
                    try:
                        with source as response:
                            if received and response.status_code != 206:
                                # The server ignored the range: start over.
                                for write, out in zip(writers, outs, strict=True):
                                    write.wait()
                                    out.restart()
                                hasher.wait()
                                hasher = PipelinedHasher()
                                progress.advance(-received)
                                received = 0
                            for chunk in response.chunks():
                                for write in writers:
                                    write(chunk)
                                hasher.update(chunk)
                                received += len(chunk)
                                progress.advance(len(chunk))
                        break
                    except ServerUnreachable:
                        if attempt == MAX_ATTEMPTS:
                            raise
                        if url is not None:
                            url = None  # the store failed us: continue through the server
                            continue
                        time.sleep(min(0.2 * 2**attempt, 3.0))
            finally:
                for write in writers:
                    write.wait()  # never close a file under a pending write
            for out in outs:
                out.finish()
            if received != size:
                raise SizeMismatch(f"blob {digest}: received {received} bytes, expected {size}")
            actual = hasher.digest()
            if actual != digest:
                raise DigestMismatch(f"blob {digest}: received bytes hash to {actual}")
        except BaseException:
            files.close()
            for temp in temps:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
            raise


class _Output:
    """A new file the download writes, whole blocks with direct I/O when ``direct``
    (see ``modeldepot.directio``): a large model then costs no page-cache churn."""

    def __init__(self, path: Path, *, direct: bool) -> None:
        self._path = path
        self._direct = direct
        self._open()

    def _open(self) -> None:
        self._fd, direct = directio.create(self._path, direct=self._direct)
        self._appender = directio.DirectAppender(self._fd, 0, direct=direct)

    def write(self, chunk: bytes | memoryview) -> None:
        self._appender.write(chunk)

    def restart(self) -> None:
        """Empty the file, to write it again from its first byte."""
        os.close(self._fd)
        self._open()

    def finish(self) -> None:
        """Write what is still buffered."""
        self._appender.close()

    def __enter__(self) -> _Output:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


def _part_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")


def _place(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically, replacing a file or link there."""
    temp = _part_path(target)
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
