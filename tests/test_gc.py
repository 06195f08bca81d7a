"""Garbage collection removes only what no version needs and nobody touched lately."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from modeldepot.blobstore import paths
from modeldepot.db.tables import blobs, uploads
from modeldepot.db.types import utcnow
from modeldepot.digest import digest_bytes
from modeldepot.errors import UploadNotFound
from modeldepot.security.context import Context
from tests.api.helpers import assert_json, assert_problem, model_url
from tests.api.helpers import commit as commit_files

# The operator: the ``gc`` command's context, allowed everything.
OPERATOR = Context.system("gc-test")


def upload(registry, data: bytes) -> str:
    digest = digest_bytes(data)
    session = registry.uploads.create_upload(OPERATOR, digest, len(data))
    writer = registry.uploads.open_writer(OPERATOR, session.id, 0)
    writer.write(data)
    writer.close()
    registry.uploads.complete_upload(OPERATOR, session.id)
    return digest


def commit(api, name: str, data: bytes, digest: str):
    """Commit a version of ``name`` listing the blob (through the API)."""
    files = [{"path": "f.bin", "size": len(data), "digest": digest}]
    return commit_files(api, name, files)


def test_gc_removes_unreferenced_blobs_and_keeps_referenced_ones(api, registry) -> None:
    kept = upload(registry, b"kept")
    assert_json(commit(api, "a/m", b"kept", kept), 201)
    orphan = upload(registry, b"orphan")
    report = registry.gc.collect(OPERATOR, grace_seconds=0)
    assert report.blobs_deleted == 1 and report.bytes_freed == len(b"orphan")
    assert registry.store.stat(orphan) is None
    assert registry.store.stat(kept) == 4
    assert registry.blobs.missing_blobs(OPERATOR, [kept, orphan]) == [orphan]


def test_gc_dry_run_changes_nothing(registry) -> None:
    orphan = upload(registry, b"orphan")
    report = registry.gc.collect(OPERATOR, dry_run=True, grace_seconds=0)
    assert report.dry_run and report.blobs_deleted == 1
    assert registry.store.stat(orphan) == 6


def test_gc_spares_blobs_within_grace_period(registry) -> None:
    fresh = upload(registry, b"fresh")
    report = registry.gc.collect(OPERATOR, grace_seconds=3600)
    assert report.blobs_deleted == 0
    assert registry.store.stat(fresh) == 5


def test_missing_check_refreshes_grace_so_a_push_in_flight_keeps_its_blobs(api, registry) -> None:
    digest = upload(registry, b"old")
    time.sleep(0.05)
    registry.blobs.missing_blobs(OPERATOR, [digest])  # a client learns it need not upload it
    report = registry.gc.collect(OPERATOR, grace_seconds=0.03)  # older than 30 ms is garbage
    assert report.blobs_deleted == 0
    assert_json(commit(api, "a/m", b"old", digest), 201)


def test_gc_keeps_blobs_of_soft_deleted_versions(api, registry) -> None:
    digest = upload(registry, b"v1")
    assert_json(commit(api, "a/m", b"v1", digest), 201)
    assert_json(api.delete(model_url("a/m", "versions", "1")), 200)
    assert registry.gc.collect(OPERATOR, grace_seconds=0).blobs_deleted == 0
    assert_json(api.post(model_url("a/m", "versions", "1", "restore")), 200)


def test_gc_expires_abandoned_uploads_and_orphaned_staging(registry) -> None:
    data = b"never finished"
    session = registry.uploads.create_upload(OPERATOR, digest_bytes(data), len(data))
    writer = registry.uploads.open_writer(OPERATOR, session.id, 0)
    writer.write(data[:5])
    writer.close()
    orphan_id = "f" * 32
    registry.store.begin_upload(orphan_id)
    # No session owns it: a single request's lease, lapsed after the upload expiry.
    old = time.time() - registry.settings.upload_expiry_seconds - 60
    os.utime(registry.store.root / "uploads" / orphan_id, (old, old))
    report = registry.gc.collect(OPERATOR, grace_seconds=3600)
    assert report.staged_removed == 1
    assert report.uploads_expired == 0
    later = utcnow() + timedelta(seconds=registry.settings.upload_expiry_seconds + 1)
    assert registry.uploads.expire_uploads(OPERATOR, now=later) == 1
    assert list(registry.store.iter_staged()) == []


def test_gc_removes_blob_files_with_no_record(registry) -> None:
    data = b"stray"
    digest = digest_bytes(data)
    registry.store.begin_upload("e" * 32)
    writer = registry.store.open_upload("e" * 32, 0)
    writer.write(data)
    writer.close()
    registry.store.finish_upload("e" * 32, digest, len(data))  # file, but no database row
    # As a single-request upload leaves it before recording it: leased, whatever the grace.
    assert registry.gc.collect(OPERATOR, grace_seconds=0).blobs_deleted == 0
    old = time.time() - registry.settings.upload_expiry_seconds - 60
    os.utime(registry.store.root / paths.blob_key(digest), (old, old))
    assert registry.gc.collect(OPERATOR, grace_seconds=0).blobs_deleted == 1
    assert registry.store.stat(digest) is None


def test_gc_leaves_a_single_request_uploads_staging_alone_whatever_the_grace(registry) -> None:
    digest = digest_bytes(b"in flight")
    upload_id, writer = registry.uploads.begin_direct_upload(OPERATOR, digest, 9)
    writer.write(b"in ")
    registry.gc.collect(OPERATOR, grace_seconds=0)
    writer.write(b"flight")
    writer.close()
    registry.uploads.finish_direct_upload(OPERATOR, upload_id, digest, 9)
    assert registry.blobs.missing_blobs(OPERATOR, [digest]) == []


def mark_collecting(registry, digest: str) -> None:
    """What the first phase of a collection leaves behind for ``digest``."""
    with registry.db.write() as conn:
        conn.execute(update(blobs).where(blobs.c.digest == digest).values(collecting_at=utcnow()))


def test_blob_marked_for_collection_counts_as_missing_until_uploaded_again(api, registry) -> None:
    digest = upload(registry, b"doomed")
    mark_collecting(registry, digest)
    registry.store.delete(digest)  # the collector crashed after deleting the bytes
    assert registry.blobs.missing_blobs(OPERATOR, [digest]) == [digest]
    assert_problem(commit(api, "a/m", b"doomed", digest), 404, "BLOB_UNKNOWN")
    upload(registry, b"doomed")  # the client sends it again: the mark is cleared
    assert registry.blobs.missing_blobs(OPERATOR, [digest]) == []
    assert_json(commit(api, "a/m", b"doomed", digest), 201)
    assert registry.gc.collect(OPERATOR, grace_seconds=0).blobs_deleted == 0
    assert registry.store.stat(digest) == 6


def test_collection_finishes_a_blob_left_marked_by_a_crash(registry) -> None:
    digest = upload(registry, b"half-collected")
    mark_collecting(registry, digest)
    report = registry.gc.collect(OPERATOR, grace_seconds=3600)  # not stale, but already marked
    assert report.blobs_deleted == 1
    assert registry.store.stat(digest) is None
    assert registry.blobs.missing_blobs(OPERATOR, [digest]) == [digest]


def test_upload_racing_a_collection_is_refused_so_the_client_sends_again(
    registry, monkeypatch
) -> None:
    data = b"raced"
    digest = digest_bytes(data)
    finish = registry.store.finish_upload

    def finish_then_collected(upload_id, digest_, size):
        finish(upload_id, digest_, size)
        registry.store.delete(digest_)  # a collection removed the bytes right after

    monkeypatch.setattr(registry.store, "finish_upload", finish_then_collected)
    session = registry.uploads.create_upload(OPERATOR, digest, len(data))
    writer = registry.uploads.open_writer(OPERATOR, session.id, 0)
    writer.write(data)
    writer.close()
    with pytest.raises(UploadNotFound):
        registry.uploads.complete_upload(OPERATOR, session.id)
    assert registry.blobs.missing_blobs(OPERATOR, [digest]) == [digest]


def test_collection_keeps_a_marked_blob_that_a_version_references(api, registry) -> None:
    digest = upload(registry, b"claimed")
    assert_json(commit(api, "a/m", b"claimed", digest), 201)
    mark_collecting(registry, digest)  # as if marked just before the commit landed
    assert registry.gc.collect(OPERATOR, grace_seconds=0).blobs_deleted == 0
    assert registry.store.stat(digest) == 7
    assert registry.blobs.missing_blobs(OPERATOR, [digest]) == []


def _abandon(registry, hours: float) -> str:
    """A session with some staged bytes, last touched ``hours`` ago."""
    data = b"abandoned upload"
    session = registry.uploads.create_upload(OPERATOR, digest_bytes(data), len(data))
    writer = registry.uploads.open_writer(OPERATOR, session.id, 0)
    writer.write(data[:7])
    writer.close()
    with registry.db.write() as conn:
        conn.execute(
            update(uploads)
            .where(uploads.c.id == session.id)
            .values(touched_at=utcnow() - timedelta(hours=hours))
        )
    return session.id


def test_gc_reclaims_stale_uploads_on_demand_before_they_expire(registry) -> None:
    recent = _abandon(registry, 0.5)
    stale = _abandon(registry, 2)
    orphan_id = "e" * 32
    registry.store.begin_upload(orphan_id)
    old = time.time() - 2 * 3600
    os.utime(registry.store.root / "uploads" / orphan_id, (old, old))
    # The expiry (24 h) and the grace period (24 h) keep them all.
    report = registry.gc.collect(OPERATOR)
    assert (report.uploads_expired, report.staged_removed) == (0, 0)
    dry = registry.gc.collect(OPERATOR, dry_run=True, stale_upload_seconds=3600)
    assert (dry.uploads_expired, dry.staged_removed) == (1, 1)
    report = registry.gc.collect(OPERATOR, stale_upload_seconds=3600)
    assert (report.uploads_expired, report.staged_removed) == (1, 1)
    assert {s.upload_id for s in registry.store.iter_staged()} == {recent}
    with pytest.raises(UploadNotFound):
        registry.uploads.get_upload(OPERATOR, stale)
    assert registry.uploads.get_upload(OPERATOR, recent).offset == 7


def test_gc_command_takes_stale_uploads_as_an_age(registry, settings, database_url) -> None:
    from click.testing import CliRunner

    from modeldepot.cli.server import gc

    stale = _abandon(registry, 3)
    storage = ["--data-dir", str(settings.data_dir), "--database-url", database_url]
    runner = CliRunner()
    bad = runner.invoke(gc, ["--stale-uploads", "soon", *storage])
    assert bad.exit_code != 0 and "soon" in bad.output
    kept = runner.invoke(gc, ["--json", *storage])
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.output)["uploads_expired"] == 0
    result = runner.invoke(gc, ["--stale-uploads", "2h", "--json", *storage])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["uploads_expired"] == 1
    # Each run is the operator's, logged as the system principal ``gc``.
    with registry.db.read() as conn:
        runs = conn.exec_driver_sql(
            "SELECT principal FROM audit_log WHERE action = 'gc.run' ORDER BY seq"
        ).all()
        expired = conn.exec_driver_sql(
            "SELECT principal, target FROM audit_log WHERE action = 'upload.abandon'"
        ).all()
    assert [r.principal for r in runs] == ["gc", "gc"]
    assert [tuple(r) for r in expired] == [("gc", stale)]
    with pytest.raises(UploadNotFound):
        registry.uploads.get_upload(OPERATOR, stale)
