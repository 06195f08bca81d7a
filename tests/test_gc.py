"""Garbage collection removes only what no version needs and nobody touched lately."""

from __future__ import annotations

import os
import time
from datetime import timedelta

from modeldepot.actor import Actor
from modeldepot.db.types import utcnow
from modeldepot.digest import digest_bytes
from modeldepot.schemas import FileEntry, VersionCreate

ACTOR = Actor("gc-test")


def upload(registry, data: bytes) -> str:
    digest = digest_bytes(data)
    session = registry.uploads.create_upload(digest, len(data), ACTOR)
    writer = registry.uploads.open_writer(session.id, 0)
    writer.write(data)
    writer.close()
    registry.uploads.complete_upload(session.id)
    return digest


def commit(registry, name: str, data: bytes, digest: str) -> None:
    registry.versions.create_version(
        name, VersionCreate(files=[FileEntry(path="f.bin", size=len(data), digest=digest)]), ACTOR
    )


def test_gc_removes_unreferenced_blobs_and_keeps_referenced_ones(registry) -> None:
    kept = upload(registry, b"kept")
    commit(registry, "a/m", b"kept", kept)
    orphan = upload(registry, b"orphan")
    report = registry.gc.collect(grace_seconds=0)
    assert report.blobs_deleted == 1 and report.bytes_freed == len(b"orphan")
    assert registry.store.stat(orphan) is None
    assert registry.store.stat(kept) == 4
    assert registry.uploads.missing_blobs([kept, orphan]) == [orphan]


def test_gc_dry_run_changes_nothing(registry) -> None:
    orphan = upload(registry, b"orphan")
    report = registry.gc.collect(dry_run=True, grace_seconds=0)
    assert report.dry_run and report.blobs_deleted == 1
    assert registry.store.stat(orphan) == 6


def test_gc_spares_blobs_within_grace_period(registry) -> None:
    fresh = upload(registry, b"fresh")
    report = registry.gc.collect(grace_seconds=3600)
    assert report.blobs_deleted == 0
    assert registry.store.stat(fresh) == 5


def test_missing_check_refreshes_grace_so_a_push_in_flight_keeps_its_blobs(registry) -> None:
    digest = upload(registry, b"old")
    time.sleep(0.05)
    registry.uploads.missing_blobs([digest])  # a client learns it need not upload it
    report = registry.gc.collect(grace_seconds=0.03)  # older than 30 ms is garbage
    assert report.blobs_deleted == 0
    commit(registry, "a/m", b"old", digest)


def test_gc_keeps_blobs_of_soft_deleted_versions(registry) -> None:
    digest = upload(registry, b"v1")
    commit(registry, "a/m", b"v1", digest)
    registry.versions.delete_version("a/m", 1, ACTOR)
    assert registry.gc.collect(grace_seconds=0).blobs_deleted == 0
    registry.versions.restore_version("a/m", 1, ACTOR)


def test_gc_expires_abandoned_uploads_and_orphaned_staging(registry) -> None:
    data = b"never finished"
    session = registry.uploads.create_upload(digest_bytes(data), len(data), ACTOR)
    writer = registry.uploads.open_writer(session.id, 0)
    writer.write(data[:5])
    writer.close()
    orphan_id = "f" * 32
    registry.store.begin_upload(orphan_id)
    old = time.time() - 7200
    os.utime(registry.store.root / "uploads" / orphan_id, (old, old))
    report = registry.gc.collect(grace_seconds=3600)
    assert report.staged_removed == 1
    assert report.uploads_expired == 0
    later = utcnow() + timedelta(seconds=registry.settings.upload_expiry_seconds + 1)
    assert registry.uploads.expire_uploads(now=later) == 1
    assert list(registry.store.iter_staged()) == []


def test_gc_removes_blob_files_with_no_record(registry) -> None:
    data = b"stray"
    digest = digest_bytes(data)
    registry.store.begin_upload("e" * 32)
    writer = registry.store.open_upload("e" * 32, 0)
    writer.write(data)
    writer.close()
    registry.store.finish_upload("e" * 32, digest, len(data))  # file, but no database row
    assert registry.gc.collect(grace_seconds=3600).blobs_deleted == 0
    assert registry.gc.collect(grace_seconds=0).blobs_deleted == 1
    assert registry.store.stat(digest) is None
