"""A full disk is an error, not an outage (both databases, ``ENOSPC`` injected).

Each write step runs out of space in turn: the blob store's write, its staging (a
staging area created, a verified blob moved into place) and the database's commit.
Every time the client gets 507 ``INSUFFICIENT_STORAGE`` naming what is full, nothing of
the failed write is kept, and the same request succeeds once space is back. Cancelling,
collecting garbage and readiness are checked against a full disk too. The same on a
real filesystem that fills up is ``tests/e2e/test_disk_full.py``.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from modeldepot import directio
from modeldepot.errors import InsufficientStorage
from modeldepot.registry import Registry
from modeldepot.security.context import Context
from tests.api.helpers import API, assert_json, assert_problem, digest_of, model_url
from tests.api.test_blobs import append, blob_url, open_session, stored_files, upload_url

Filler = Callable[..., None]
BIG = os.urandom(5 * 1024 * 1024 + 123)  # past the writer's 4 MiB buffer: written mid-body

OPERATOR = Context.system("disk-test")


def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fill_blob_disk(monkeypatch: pytest.MonkeyPatch, room: int = 0) -> None:
    """The blob store's writes find ``room`` bytes (a multiple of 4 KiB) left, then
    ENOSPC, as a filesystem that fills up mid-write."""
    real = directio._write_all
    left = [room]

    def write_all(fd: int, view: memoryview, offset: int) -> None:
        if view.nbytes > left[0]:
            if left[0]:
                real(fd, view[: left[0]], offset)
                left[0] = 0
            raise enospc()
        real(fd, view, offset)
        left[0] -= view.nbytes

    monkeypatch.setattr(directio, "_write_all", write_all)


def fail_in_store(monkeypatch: pytest.MonkeyPatch, name: str, registry: Registry) -> None:
    """``os.<name>`` (``open`` with O_CREAT, or ``replace``) fails with ENOSPC for paths
    of the blob store, as when its filesystem has no room for a new entry."""
    real: Callable[..., Any] = getattr(os, name)
    root = str(registry.store.root)

    def failing(path: Any, *args: Any, **kwargs: Any) -> Any:
        creating = name != "open" or (len(args) > 0 and args[0] & os.O_CREAT)
        if str(path).startswith(root) and creating:
            raise enospc()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, failing)


@pytest.fixture
def fill_database(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Iterator[Filler]:
    """``fill_database(freed=None)``: the database's commits of transactions that wrote
    fail as on a full disk (SQLITE_FULL; PostgreSQL's disk_full) until ``freed()`` says
    space was freed (without it, until ``monkeypatch.undo()``). Raised by the driver's
    commit, so SQLAlchemy wraps it as it would a real one; read-only transactions need
    no room and pass."""
    engine = registry.db.engine
    wrote: set[int] = set()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            wrote.add(id(conn.connection))

    def forget(conn: Any) -> None:
        wrote.discard(id(conn.connection))

    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "rollback", forget)

    def fill(freed: Callable[[], bool] | None = None) -> None:
        real = engine.dialect.do_commit
        wrote.clear()  # committed before the disk filled

        def do_commit(dbapi_connection: Any) -> None:
            if id(dbapi_connection) in wrote and (freed is None or not freed()):
                wrote.discard(id(dbapi_connection))
                raise disk_full(registry)
            wrote.discard(id(dbapi_connection))
            real(dbapi_connection)

        monkeypatch.setattr(engine.dialect, "do_commit", do_commit)

    yield fill
    event.remove(engine, "before_cursor_execute", record)
    event.remove(engine, "rollback", forget)


def disk_full(registry: Registry) -> Exception:
    if registry.db.is_sqlite:
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode = sqlite3.SQLITE_FULL
        return error
    import psycopg.errors

    return psycopg.errors.DiskFull("could not extend file: No space left on device")


def assert_full(response, resource: str) -> dict[str, Any]:
    body = assert_problem(response, 507, "INSUFFICIENT_STORAGE")
    assert body["resource"] == resource
    assert "full" in body["detail"]
    return body


def sessions(registry: Registry) -> int:
    return registry.uploads.count_sessions()


# --- the blob store's write --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "room"), [(b"small blob", 0), (BIG, 4096)], ids=["at-close", "mid-body"]
)
def test_put_blob_on_a_full_disk_is_507_and_keeps_nothing(
    api, registry, monkeypatch, data: bytes, room: int
) -> None:
    fill_blob_disk(monkeypatch, room)
    assert_full(api.put(blob_url(digest_of(data)), content=data), "blobstore")
    assert stored_files(registry, "uploads") == [] and stored_files(registry, "sha256") == []
    assert sessions(registry) == 0
    monkeypatch.undo()  # space freed: the same request succeeds, nobody touched a file
    assert_json(api.put(blob_url(digest_of(data)), content=data), 201)


def test_append_on_a_full_disk_is_507_and_drops_only_the_failed_requests_bytes(
    api, registry, monkeypatch
) -> None:
    half = 4096 * 3
    upload_id = open_session(api, digest_of(BIG), len(BIG))
    assert_json(append(api, upload_id, BIG[:half], 0), 200)
    fill_blob_disk(monkeypatch, room=8192)
    assert_full(append(api, upload_id, BIG[half:], half), "blobstore")
    # What the earlier request stored stays; the failed one's bytes are gone at once.
    assert [p.stat().st_size for p in stored_files(registry, "uploads")] == [half]
    assert assert_json(api.get(upload_url(upload_id)), 200)["offset"] == half
    monkeypatch.undo()
    assert_json(append(api, upload_id, BIG[half:], half), 200)
    assert assert_json(api.post(upload_url(upload_id, "complete")), 200)["complete"]
    assert api.get(blob_url(digest_of(BIG))).content == BIG


# --- staging: creating a staging area, moving a verified blob into place ----------


def test_opening_an_upload_without_room_for_its_staging_area_is_507(
    api, registry, monkeypatch
) -> None:
    fail_in_store(monkeypatch, "open", registry)
    body = {"digest": digest_of(b"x"), "size": 1}
    assert_full(api.post(f"{API}/uploads", json=body), "blobstore")
    assert_full(api.put(blob_url(digest_of(b"x")), content=b"x"), "blobstore")
    assert sessions(registry) == 0 and stored_files(registry, "uploads") == []
    monkeypatch.undo()
    assert_json(api.post(f"{API}/uploads", json=body), 201)


def test_storing_a_verified_blob_without_room_is_507_and_discards_the_staged_copy(
    api, registry, monkeypatch
) -> None:
    upload_id = open_session(api, digest_of(b"payload"), 7)
    assert_json(append(api, upload_id, b"payload", 0), 200)
    fail_in_store(monkeypatch, "replace", registry)
    assert_full(api.post(upload_url(upload_id, "complete")), "blobstore")
    assert_full(api.put(blob_url(digest_of(b"other")), content=b"other"), "blobstore")
    assert stored_files(registry, "uploads") == [] and stored_files(registry, "sha256") == []
    monkeypatch.undo()
    assert_json(api.put(blob_url(digest_of(b"other")), content=b"other"), 201)


# --- the database's commit ---------------------------------------------------------


def test_database_commit_on_a_full_disk_is_507_naming_the_database(
    api, registry, monkeypatch, fill_database
) -> None:
    data = b"weights"
    fill_database()
    assert_full(api.post(f"{API}/uploads", json={"digest": digest_of(data), "size": 7}), "database")
    assert_full(api.put(blob_url(digest_of(data)), content=data), "database")
    assert stored_files(registry, "uploads") == []
    monkeypatch.undo()
    assert sessions(registry) == 0
    digest = digest_of(data)
    assert_json(api.put(blob_url(digest), content=data), 201)
    files = [{"path": "w.bin", "size": len(data), "digest": digest}]
    fill_database()
    assert_full(api.post(model_url("disk/full", "versions"), json={"files": files}), "database")
    monkeypatch.undo()
    assert assert_json(api.post(model_url("disk/full", "versions"), json={"files": files}), 201)


# --- what frees space works on a full disk -----------------------------------------


def test_cancelling_an_upload_frees_its_bytes_before_recording_anything(
    api, registry, monkeypatch, fill_database
) -> None:
    upload_id = open_session(api, digest_of(BIG), len(BIG))
    assert_json(append(api, upload_id, BIG[:8192], 0), 200)
    fill_database(freed=lambda: not stored_files(registry, "uploads"))
    assert api.delete(upload_url(upload_id)).status_code == 204
    assert stored_files(registry, "uploads") == [] and sessions(registry) == 0


def test_cancelling_frees_the_bytes_even_when_the_database_stays_full(
    api, registry, monkeypatch, fill_database
) -> None:
    upload_id = open_session(api, digest_of(BIG), len(BIG))
    assert_json(append(api, upload_id, BIG[:8192], 0), 200)
    fill_database()
    assert_full(api.delete(upload_url(upload_id)), "database")
    assert stored_files(registry, "uploads") == []
    monkeypatch.undo()
    assert api.delete(upload_url(upload_id)).status_code == 204


def test_gc_on_a_full_disk_frees_bytes_first(registry, fill_database) -> None:
    """An unreferenced blob and an orphaned staging area, on a disk so full that the
    collector's first database write fails: it frees bytes, then records."""
    stored_id, writer = registry.uploads.begin_direct_upload(OPERATOR, digest_of(b"orphan"), 6)
    writer.write(b"orphan")
    writer.close()
    registry.uploads.finish_direct_upload(OPERATOR, stored_id, digest_of(b"orphan"), 6)
    registry.store.begin_upload("f" * 32)  # staged bytes no session owns, long abandoned
    old = time.time() - registry.settings.upload_expiry_seconds - 60
    os.utime(registry.store.root / "uploads" / ("f" * 32), (old, old))
    fill_database(freed=lambda: not stored_files(registry, "sha256"))
    if not registry.db.is_sqlite:
        # PostgreSQL's disk is not the blob store's: deleting blobs makes no room there.
        with pytest.raises(InsufficientStorage):
            registry.gc.collect(OPERATOR, grace_seconds=0)
        assert stored_files(registry, "uploads") == []  # freed before the database write
        return
    report = registry.gc.collect(OPERATOR, grace_seconds=0)
    assert (report.blobs_deleted, report.staged_removed) == (1, 1)
    assert stored_files(registry, "uploads") == [] and stored_files(registry, "sha256") == []
    assert registry.blobs.missing_blobs(OPERATOR, [digest_of(b"orphan")]) == [digest_of(b"orphan")]


def test_deleting_a_version_on_a_full_database_is_507_then_works(
    api, registry, monkeypatch, fill_database
) -> None:
    data = b"v1"
    files = [{"path": "w.bin", "size": 2, "digest": digest_of(data)}]
    assert_json(api.put(blob_url(digest_of(data)), content=data), 201)
    assert_json(api.post(model_url("disk/v", "versions"), json={"files": files}), 201)
    fill_database()
    assert_full(api.delete(model_url("disk/v", "versions", "1")), "database")
    monkeypatch.undo()
    assert assert_json(api.delete(model_url("disk/v", "versions", "1")), 200)["deleted_at"]


# --- readiness and metrics ---------------------------------------------------------


def test_readyz_fails_below_the_free_space_floor_and_metrics_show_free_bytes(api, registry) -> None:
    free = registry.store.free_bytes()
    body = assert_json(api.get("/readyz"), 200)
    assert "bytes free" in body["checks"]["blobstore"]["detail"]
    floor = 1 << 62  # more than any disk has
    settings = dataclasses.replace(registry.settings, min_free_bytes=floor)
    api.app.state.registry = Registry(registry.db, registry.store, settings)
    body = assert_problem(api.get("/readyz"), 503, "NOT_READY")
    blobstore = body["checks"]["blobstore"]
    assert not blobstore["ok"] and f"below the floor of {floor}" in blobstore["detail"]
    database = body["checks"]["database"]
    assert database["ok"] == (not registry.db.is_sqlite)  # PostgreSQL's disk is not ours
    metrics = api.get("/metrics").text
    line = next(
        x for x in metrics.splitlines() if x.startswith('modeldepot_free_bytes{volume="blobstore"}')
    )
    assert abs(float(line.split()[-1]) - free) < 1024**3
    assert ('modeldepot_free_bytes{volume="database"}' in metrics) == registry.db.is_sqlite
