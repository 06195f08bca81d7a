"""Upload one blob: in one PUT, through a resumable session, or in presigned parts.

Small blobs go up in one ``PUT /blobs/{digest}``. Large ones, and streamed files (whose
digest is still being computed by ``later`` when the upload starts), go through a
session that continues from the server's offset after a broken connection. When the
server offers presigned transfers (an S3 blob store), every non-empty blob goes
straight to the store instead, in parts sent in parallel to presigned URLs; after an
interruption only the parts the store lacks are sent again. The server verifies every
byte before it stores it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from modeldepot.client.http import Http
from modeldepot.client.progress import Progress
from modeldepot.errors import (
    InsufficientStorage,
    ModeldepotError,
    ServerUnreachable,
    UploadConflict,
    UploadIncomplete,
    UploadNotFound,
    UploadOffsetMismatch,
)
from modeldepot.schemas import UploadRead

# Blobs at least this large use a resumable upload session.
SESSION_THRESHOLD = 64 * 1024 * 1024
MAX_ATTEMPTS = 8
# How long a push waits for a session another writer holds (UPLOAD_BUSY).
BUSY_PATIENCE = 60.0


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file to push: its path in the manifest, where it is read from, its size and
    sha256 digest (as hashed when it was read)."""

    path: str
    source: Path
    size: int
    digest: str


def upload_blob(
    http: Http,
    file: LocalFile,
    progress: Progress,
    workers: int = 4,
    *,
    model: str | None = None,
    later: Future[LocalFile] | None = None,
) -> None:
    """Upload one blob for ``model`` (the server links it there once verified: the
    caller may then use it in that model's versions). With ``later`` (a streamed file)
    its digest is still being computed there, and is named only when the upload
    completes."""
    if http.presigned and file.size > 0:
        session = _open_session(http, file, model, presigned=True, later=later)
        if session.presigned is not None:
            _upload_presigned(http, file, model, session, progress, workers, later)
            return
        http.presigned = False  # not offered: the server relays bytes
        _upload_resumable(http, file, model, progress, session, later)
    elif file.size < SESSION_THRESHOLD and later is None:
        _upload_whole(http, file, model, progress)
    else:
        _upload_resumable(http, file, model, progress, later=later)


def _upload_whole(http: Http, file: LocalFile, model: str | None, progress: Progress) -> None:
    query = f"?{urlencode({'model': model})}" if model is not None else ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        sent = [0]
        try:
            http.send_file(
                "PUT",
                f"/blobs/{file.digest}{query}",
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
    http: Http,
    file: LocalFile,
    model: str | None,
    progress: Progress,
    session: UploadRead | None = None,
    later: Future[LocalFile] | None = None,
) -> None:
    session = session or _open_session(http, file, model, later=later)
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
            _complete(http, session.id, later)
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
            # Expired or collected; or completed, by this client before an answer was
            # lost or by another with the same bytes.
            if _stored_meanwhile(http, file, later):
                progress.advance(file.size - sent_total)
                return
            session = _open_session(http, file, model, later=later)
            offset = 0
        except ServerUnreachable:
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(min(0.2 * 2**attempt, 3.0))
            state = _session_state(http, session.id)
            offset = state.offset
        except InsufficientStorage:
            # The server kept nothing of the failed request; cancel the session too, so
            # what earlier requests staged is freed now, not when the session expires.
            with contextlib.suppress(ModeldepotError):
                http.request("DELETE", f"/uploads/{session.id}")
            raise
        # Count only the bytes the server kept.
        progress.advance(offset - sent_total)
        sent_total = offset
    raise ServerUnreachable(f"upload of {file.path} did not finish after {MAX_ATTEMPTS} attempts")


def _open_session(
    http: Http,
    file: LocalFile,
    model: str | None,
    *,
    presigned: bool = False,
    later: Future[LocalFile] | None,
) -> UploadRead:
    """Open a session for ``model``; a streamed file's (``later``) names no digest yet."""
    digest = None if later is not None else file.digest
    body = {"digest": digest, "size": file.size, "presigned": presigned}
    if model is not None:
        body["model"] = model
    response = http.request("POST", "/uploads", json=body, idempotent=True)
    return UploadRead.model_validate(response.json())


def _complete(http: Http, upload_id: str, later: Future[LocalFile] | None) -> None:
    """Complete a session; a streamed file's waits for its digest and names it."""
    body = {"digest": later.result().digest} if later is not None else None
    http.request("POST", f"/uploads/{upload_id}/complete", json=body, idempotent=True)


def _stored_meanwhile(http: Http, file: LocalFile, later: Future[LocalFile] | None) -> bool:
    """Whether the server holds the blob now (a streamed file's only once hashed)."""
    if later is not None and not later.done():
        return False
    digest = later.result().digest if later is not None else file.digest
    return not missing_digests(http, [digest])


# Parts whose URLs are asked for at once: few enough that they are used long before
# they expire (64 parts are 1 GiB or more), many enough to keep every worker busy.
PART_URL_BATCH = 64


def _upload_presigned(
    http: Http,
    file: LocalFile,
    model: str | None,
    session: UploadRead,
    progress: Progress,
    workers: int,
    later: Future[LocalFile] | None = None,
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
            _complete(http, session.id, later)
            return
        except UploadNotFound:
            if _stored_meanwhile(http, file, later):
                progress.advance(file.size - counted[0])
                return
            session = _open_session(http, file, model, presigned=True, later=later)
            if session.presigned is None:
                _upload_resumable(http, file, model, progress, session, later)
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


def missing_digests(http: Http, digests: list[str]) -> list[str]:
    """The digests among ``digests`` the server lacks (``POST /blobs/missing``)."""
    missing: list[str] = []
    for start in range(0, len(digests), 5000):
        batch = digests[start : start + 5000]
        response = http.request("POST", "/blobs/missing", json={"digests": batch}, idempotent=True)
        missing.extend(response.json()["missing"])
    return missing
