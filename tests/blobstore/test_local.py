"""``LocalBlobStore``: the conformance suite, plus what only a filesystem can show."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from modeldepot import directio
from modeldepot.blobstore import local, paths
from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.digest import digest_bytes
from modeldepot.directio import BLOCK, BUFFER
from modeldepot.errors import DigestMismatch, UploadNotFound
from tests.conformance.blobstore import (
    PAYLOAD,
    BlobStoreConformance,
    MiB,
    pieces,
    put,
    read_all,
    stage,
)


class TestLocalBlobStore(BlobStoreConformance):
    def make_store(self, root):
        return LocalBlobStore(root, fsync=False)


class TestLocalBlobStoreWithoutDirectIO(BlobStoreConformance):
    """The same contract with every byte through the page cache."""

    def make_store(self, root):
        return LocalBlobStore(root, fsync=False, direct_io=False)


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root).as_posix()) for path in root.rglob("*") if path.is_file()}


def test_new_store_creates_its_top_level_directories(tmp_path):
    LocalBlobStore(tmp_path / "store", fsync=False)
    assert sorted(os.listdir(tmp_path / "store")) == sorted([paths.BLOBS, paths.UPLOADS])


def test_on_disk_layout_matches_the_paths_docstring(tmp_path):
    store = LocalBlobStore(tmp_path, fsync=False)
    digest = put(store, PAYLOAD)
    upload_id = stage(store, b"staged")
    hex_digest = digest.removeprefix("sha256:")

    blob_key = f"sha256/{hex_digest[:2]}/{hex_digest}"
    upload_key = f"uploads/{upload_id}"
    assert files_under(tmp_path) == {blob_key, upload_key}
    assert paths.blob_key(digest) == blob_key
    assert paths.upload_key(upload_id) == upload_key
    assert paths.digest_of_key(blob_key) == digest
    assert (tmp_path / blob_key).read_bytes() == PAYLOAD
    assert (tmp_path / upload_key).read_bytes() == b"staged"
    for top in os.listdir(tmp_path):
        assert f"{top}/" in paths.__doc__


def test_nothing_appears_under_sha256_before_verification(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path, fsync=False)
    data = PAYLOAD * 1000
    upload_id = stage(store, data, sizes=(999,))
    assert files_under(tmp_path / paths.BLOBS) == set()

    seen_while_hashing: list[set[str]] = []
    real_hash_fd = local._hash_fd

    def observing_hash_fd(fd, **options):
        seen_while_hashing.append(files_under(tmp_path / paths.BLOBS))
        return real_hash_fd(fd, **options)

    monkeypatch.setattr(local, "_hash_fd", observing_hash_fd)
    # A fresh instance has no running hash, so it must read the staged bytes back.
    LocalBlobStore(tmp_path, fsync=False).finish_upload(upload_id, digest_bytes(data), len(data))
    assert seen_while_hashing == [set()]
    assert files_under(tmp_path) == {paths.blob_key(digest_bytes(data))}


def test_rejected_upload_leaves_no_file_anywhere(tmp_path):
    store = LocalBlobStore(tmp_path, fsync=False)
    upload_id = stage(store, PAYLOAD)
    with pytest.raises(DigestMismatch):
        store.finish_upload(upload_id, digest_bytes(b"other"), len(PAYLOAD))
    assert files_under(tmp_path) == set()


def test_committed_blob_file_is_never_rewritten(tmp_path):
    store = LocalBlobStore(tmp_path, fsync=False)
    digest = put(store, PAYLOAD)
    before = os.stat(tmp_path / paths.blob_key(digest))
    put(store, PAYLOAD)
    after = os.stat(tmp_path / paths.blob_key(digest))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_invalid_upload_ids_create_no_files(tmp_path):
    store = LocalBlobStore(tmp_path / "nested" / "store", fsync=False)
    for upload_id in ("../escape", "../../escape", "..", "0" * 16 + "/" + "0" * 15, "A" * 32):
        with pytest.raises(UploadNotFound):
            store.begin_upload(upload_id)
    assert files_under(tmp_path) == set()


def test_stray_files_are_not_listed_as_blobs_or_uploads(tmp_path):
    store = LocalBlobStore(tmp_path, fsync=False)
    digest = put(store, PAYLOAD)
    hex_digest = digest.removeprefix("sha256:")
    upload_id = stage(store, b"staged")
    (tmp_path / "sha256" / "README").write_text("not a blob")
    (tmp_path / "sha256" / "zz").mkdir()
    (tmp_path / "sha256" / "zz" / "junk").write_text("not a blob")
    (tmp_path / "sha256" / hex_digest[:2] / (hex_digest + ".tmp")).write_text("partial")
    (tmp_path / "sha256" / "00").mkdir()
    (tmp_path / "sha256" / "00" / hex_digest).write_text("wrong prefix")
    (tmp_path / "uploads" / ".nfs000123").write_text("not an upload")
    (tmp_path / "uploads" / "notanid").write_text("not an upload")

    assert [info.digest for info in store.iter_blobs()] == [digest]
    assert [info.upload_id for info in store.iter_staged()] == [upload_id]


def test_store_with_fsync_round_trips(tmp_path):
    store = LocalBlobStore(tmp_path)
    digest = put(store, PAYLOAD)
    assert b"".join(store.read(digest)) == PAYLOAD


@pytest.mark.parametrize("direct_io", [True, False], ids=["direct", "buffered"])
@pytest.mark.parametrize("finisher", ["same", "fresh"])
def test_upload_resumed_at_an_unaligned_offset_stores_the_right_blob(
    tmp_path, monkeypatch, direct_io, finisher
):
    """A second writer starting mid-block (its last block read back) loses no byte, and
    the blob verifies whether its hash is kept or read back from the staged file."""
    data = random.Random(7).randbytes(2 * BUFFER + 9_999)
    split = BUFFER + 123
    assert split % BLOCK
    store = LocalBlobStore(tmp_path, fsync=False, direct_io=direct_io)
    upload_id = stage(store, data[:split], (65_537, 1, 4093))

    # Resumed as another process would: no spare buffer still holding the last block.
    monkeypatch.setattr(directio, "_spare", [])
    offset = store.staged_size(upload_id)
    assert offset == split
    writer = store.open_upload(upload_id, offset)
    for piece in pieces(data[offset:], (4095, MiB + 1)):
        writer.write(piece)
    assert writer.close() == len(data)
    assert store.staged_size(upload_id) == len(data)

    finishing = store if finisher == "same" else LocalBlobStore(tmp_path, direct_io=direct_io)
    digest = digest_bytes(data)
    finishing.finish_upload(upload_id, digest, len(data))
    assert store.stat(digest) == len(data)
    assert read_all(store, digest) == data
    assert read_all(store, digest, split - 5, BUFFER) == data[split - 5 : split - 5 + BUFFER]
    assert (tmp_path / paths.blob_key(digest)).read_bytes() == data
