"""Background work run by several server processes at once: one does it, none fails.

On PostgreSQL the upload sweep and garbage collection each take an advisory lock and
skip the round when another process holds it; on SQLite every lock is granted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from modeldepot.db.locks import GARBAGE_COLLECTION, UPLOAD_SWEEP, lock_key, try_exclusive
from modeldepot.db.types import utcnow
from modeldepot.digest import digest_bytes
from modeldepot.security.context import Context

OPERATOR = Context.system("lock-test")


def on_postgres(registry) -> bool:
    return not registry.db.is_sqlite


def stored_blob(registry, data: bytes) -> str:
    digest = digest_bytes(data)
    upload_id, writer = registry.uploads.begin_direct_upload(OPERATOR, digest, len(data))
    writer.write(data)
    writer.close()
    registry.uploads.finish_direct_upload(OPERATOR, upload_id, digest, len(data))
    return digest


def open_session(registry, data: bytes) -> str:
    session = registry.uploads.create_upload(OPERATOR, digest_bytes(data), len(data))
    return session.id


def after_expiry(registry) -> Any:
    return utcnow() + timedelta(seconds=registry.settings.upload_expiry_seconds + 1)


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released at the same instant; their results, in order.
    An exception in any of them fails the test."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            start.wait(10)
            results[index] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_lock_keys_are_stable_and_distinct() -> None:
    names = [UPLOAD_SWEEP, GARBAGE_COLLECTION, "schema-migration", "upload-admission"]
    assert len({lock_key(n) for n in names}) == len(names)
    assert lock_key(UPLOAD_SWEEP) == lock_key("upload-sweep")
    assert all(-(2**63) <= lock_key(n) < 2**63 for n in names)


def test_a_held_lock_is_refused_to_others_until_released(registry) -> None:
    engine = registry.db.engine
    with try_exclusive(engine, "test-lock") as first:
        assert first
        with try_exclusive(engine, "test-lock") as second:
            assert second is not on_postgres(registry)
        with try_exclusive(engine, "another-lock") as other:
            assert other
    with try_exclusive(engine, "test-lock") as again:
        assert again


def test_a_lock_is_released_when_the_work_fails(registry) -> None:
    with pytest.raises(RuntimeError), try_exclusive(registry.db.engine, "test-lock"):
        raise RuntimeError("the work failed")
    with try_exclusive(registry.db.engine, "test-lock") as held:
        assert held


def test_upload_sweep_skips_the_round_while_another_process_sweeps(registry) -> None:
    session = open_session(registry, b"abandoned")
    later = after_expiry(registry)
    with try_exclusive(registry.db.engine, UPLOAD_SWEEP):
        assert registry.uploads.expire_uploads(OPERATOR, now=later, dry_run=True) == 1
        swept = registry.uploads.expire_uploads(OPERATOR, now=later)
    if on_postgres(registry):
        assert swept == 0
        assert registry.uploads.count_sessions() == 1
        assert registry.uploads.expire_uploads(OPERATOR, now=later) == 1
    else:
        assert swept == 1
    assert registry.uploads.count_sessions() == 0
    assert session not in {s.upload_id for s in registry.store.iter_staged()}


def test_concurrent_upload_sweeps_expire_each_session_once(registry) -> None:
    sessions = [open_session(registry, f"abandoned {i}".encode()) for i in range(20)]
    later = after_expiry(registry)
    results = together(*[lambda: registry.uploads.expire_uploads(OPERATOR, now=later)] * 3)
    assert registry.uploads.count_sessions() == 0
    assert {s.upload_id for s in registry.store.iter_staged()}.isdisjoint(sessions)
    if on_postgres(registry):
        # One sweeps; a sweep that started after it finished finds nothing left.
        assert sum(results) == len(sessions)
        assert sorted(results)[-1] == len(sessions)


def test_collection_skips_while_another_process_collects(registry) -> None:
    digest = stored_blob(registry, b"unreferenced")
    with try_exclusive(registry.db.engine, GARBAGE_COLLECTION):
        dry = registry.gc.collect(OPERATOR, dry_run=True, grace_seconds=0)
        report = registry.gc.collect(OPERATOR, grace_seconds=0)
    assert dry.blobs_deleted == 1 and not dry.skipped
    if on_postgres(registry):
        assert report.skipped and report.blobs_deleted == 0
        assert registry.store.stat(digest) is not None
        report = registry.gc.collect(OPERATOR, grace_seconds=0)
    assert not report.skipped and report.blobs_deleted == 1
    assert registry.store.stat(digest) is None


def test_concurrent_collections_delete_each_blob_once(registry) -> None:
    digests = [stored_blob(registry, f"garbage {i}".encode() * 100) for i in range(30)]
    reports = together(*[lambda: registry.gc.collect(OPERATOR, grace_seconds=0)] * 3)
    assert sum(r.blobs_deleted for r in reports) == len(digests)
    assert sum(r.bytes_freed for r in reports) == sum(len(f"garbage {i}") * 100 for i in range(30))
    assert all(registry.store.stat(d) is None for d in digests)
    assert registry.blobs.missing_blobs(OPERATOR, digests) == digests
    if on_postgres(registry):
        # Serialised by the lock: the ones that did not skip ran one after another.
        assert [r.blobs_deleted for r in reports if not r.skipped].count(len(digests)) == 1
