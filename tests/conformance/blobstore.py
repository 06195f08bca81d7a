"""The conformance suite every ``BlobStore`` (``modeldepot.blobstore.base``) passes.

A backend runs it by subclassing and saying how to build a store kept under ``root``::

    class TestLocalBlobStore(BlobStoreConformance):
        def make_store(self, root):
            return LocalBlobStore(root, fsync=False)

``make_store`` may be called again with the same ``root``: each call stands for another
process sharing the storage, so all state must live under ``root`` (a directory, or a
unique key prefix on a remote backend), never only in the instance. A backend with a
known defect overrides that one test with ``pytest.mark.xfail(strict=True, reason=...)``
and calls ``super()``, so the defect stays visible until it is fixed.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path

import pytest

from modeldepot.blobstore.base import BlobStore
from modeldepot.digest import digest_bytes
from modeldepot.directio import BUFFER, give_buffer, take_buffer
from modeldepot.errors import (
    BlobNotFound,
    DigestInvalid,
    DigestMismatch,
    SizeMismatch,
    UploadConflict,
    UploadNotFound,
    UploadOffsetMismatch,
)

MiB = 1024 * 1024
PAYLOAD = b"the quick brown fox jumps over the lazy dog"
EMPTY_DIGEST = digest_bytes(b"")
ODD_CHUNKS = (1, 7, 4093, 65_537, MiB + 3, 333_333)
INVALID_UPLOAD_IDS = [
    "",
    "abc",
    "0" * 31,
    "0" * 33,
    "A" * 32,
    "g" * 32,
    str(uuid.UUID(int=1)),  # dashed form, not .hex
    "../" + "0" * 29,
    "0" * 16 + "/" + "0" * 15,
]
UPLOAD_OPERATIONS = {
    "begin_upload": lambda store, upload_id: store.begin_upload(upload_id),
    "staged_size": lambda store, upload_id: store.staged_size(upload_id),
    "open_upload": lambda store, upload_id: store.open_upload(upload_id, 0),
    "finish_upload": lambda store, upload_id: store.finish_upload(upload_id, EMPTY_DIGEST, 0),
}


def new_upload_id() -> str:
    return uuid.uuid4().hex


def pieces(data: bytes, sizes: Sequence[int]) -> Iterator[bytes]:
    """``data`` cut into consecutive pieces of the given sizes, repeated as needed."""
    position = 0
    for size in cycle(sizes):
        if position >= len(data):
            return
        yield data[position : position + size]
        position += size


def stage(store: BlobStore, data: bytes, sizes: Sequence[int] = (MiB,)) -> str:
    """Begin a session and write ``data`` to it; return its upload id."""
    upload_id = new_upload_id()
    store.begin_upload(upload_id)
    writer = store.open_upload(upload_id, 0)
    for piece in pieces(data, sizes):
        writer.write(piece)
    assert writer.close() == len(data)
    return upload_id


def put(store: BlobStore, data: bytes, sizes: Sequence[int] = (MiB,)) -> str:
    """Upload and commit ``data``; return its digest."""
    digest = digest_bytes(data)
    store.finish_upload(stage(store, data, sizes), digest, len(data))
    return digest


def read_all(store: BlobStore, digest: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join(store.read(digest, offset, length))


def staged_ids(store: BlobStore) -> set[str]:
    return {info.upload_id for info in store.iter_staged()}


def assert_session_gone(store: BlobStore, upload_id: str) -> None:
    assert upload_id not in staged_ids(store)
    with pytest.raises(UploadNotFound):
        store.staged_size(upload_id)


class BlobStoreConformance:
    """The ``BlobStore`` contract as tests. Subclasses implement ``make_store``."""

    def make_store(self, root: Path) -> BlobStore:
        raise NotImplementedError("a backend's test class says how to build its store")

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        return tmp_path / "store"

    @pytest.fixture
    def store(self, root: Path) -> BlobStore:
        return self.make_store(root)

    # Reading committed blobs

    def test_stat_of_absent_blob_is_none(self, store):
        assert store.stat(digest_bytes(b"never stored")) is None

    def test_committed_blob_has_its_size_and_bytes(self, store):
        digest = put(store, PAYLOAD)
        assert store.stat(digest) == len(PAYLOAD)
        assert read_all(store, digest) == PAYLOAD

    @pytest.mark.parametrize(
        ("offset", "length"),
        [
            (0, None),
            (0, 10),
            (4, 5),
            (40, None),
            (40, 100),
            (0, 1000),
            (0, 0),
            (10, 0),
            (42, 1),
            (43, None),
            (43, 5),
        ],
    )
    def test_read_streams_the_requested_range(self, store, offset, length):
        digest = put(store, PAYLOAD)
        end = None if length is None else offset + length
        assert read_all(store, digest, offset, length) == PAYLOAD[offset:end]

    def test_read_yields_bytes(self, store):
        digest = put(store, PAYLOAD)
        assert all(isinstance(chunk, bytes) for chunk in store.read(digest))

    def test_read_of_absent_blob_raises_at_call_time(self, store):
        with pytest.raises(BlobNotFound) as excinfo:
            store.read(digest_bytes(b"never stored"))  # not iterated
        assert excinfo.value.code == "BLOB_UNKNOWN"

    def test_committed_blob_is_visible_to_another_instance(self, store, root):
        digest = put(store, PAYLOAD)
        other = self.make_store(root)
        assert other.stat(digest) == len(PAYLOAD)
        assert read_all(other, digest) == PAYLOAD

    # Deleting and listing

    def test_delete_returns_true_then_false(self, store):
        digest = put(store, PAYLOAD)
        assert store.delete(digest) is True
        assert store.delete(digest) is False
        assert store.stat(digest) is None
        with pytest.raises(BlobNotFound):
            store.read(digest)

    def test_delete_of_never_stored_blob_returns_false(self, store):
        assert store.delete(digest_bytes(b"never stored")) is False

    def test_new_store_lists_nothing(self, store):
        assert list(store.iter_blobs()) == []
        assert list(store.iter_staged()) == []

    def test_iter_blobs_lists_committed_blobs_with_sizes(self, store):
        expected = {put(store, data): len(data) for data in (b"", b"a", PAYLOAD, b"b" * 5000)}
        stage(store, b"staged, not committed")
        assert {info.digest: info.size for info in store.iter_blobs()} == expected

    def test_iter_blobs_omits_deleted_blobs(self, store):
        kept = put(store, b"kept")
        store.delete(put(store, b"deleted"))
        assert [info.digest for info in store.iter_blobs()] == [kept]

    def test_listed_timestamps_are_timezone_aware_and_recent(self, store):
        put(store, PAYLOAD)
        stage(store, PAYLOAD)
        now = datetime.now(UTC)
        listed = [*store.iter_blobs(), *store.iter_staged()]
        assert len(listed) == 2
        for info in listed:
            assert info.modified_at.tzinfo is not None
            assert abs(now - info.modified_at) < timedelta(hours=1)

    def test_iter_staged_lists_staging_areas_with_sizes(self, store):
        empty = new_upload_id()
        store.begin_upload(empty)
        partial = stage(store, PAYLOAD)
        finished = stage(store, b"done")
        store.finish_upload(finished, digest_bytes(b"done"), 4)
        aborted = stage(store, b"aborted")
        store.abort_upload(aborted)
        listed = {info.upload_id: info.size for info in store.iter_staged()}
        assert listed == {empty: 0, partial: len(PAYLOAD)}

    # Upload sessions

    def test_staged_size_counts_bytes_received(self, store):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        assert store.staged_size(upload_id) == 0
        writer = store.open_upload(upload_id, 0)
        writer.write(b"abc")
        writer.write(b"de")
        writer.close()
        assert store.staged_size(upload_id) == 5

    def test_staged_size_of_unknown_upload_raises_upload_not_found(self, store):
        with pytest.raises(UploadNotFound) as excinfo:
            store.staged_size(new_upload_id())
        assert excinfo.value.code == "UPLOAD_UNKNOWN"

    def test_open_upload_of_unknown_upload_raises_upload_not_found(self, store):
        with pytest.raises(UploadNotFound):
            store.open_upload(new_upload_id(), 0)

    def test_finish_of_unknown_upload_raises_upload_not_found(self, store):
        with pytest.raises(UploadNotFound):
            store.finish_upload(new_upload_id(), digest_bytes(PAYLOAD), len(PAYLOAD))

    @pytest.mark.parametrize("operation", sorted(UPLOAD_OPERATIONS))
    @pytest.mark.parametrize("upload_id", INVALID_UPLOAD_IDS)
    def test_invalid_upload_id_is_unknown(self, store, upload_id, operation):
        with pytest.raises(UploadNotFound):
            UPLOAD_OPERATIONS[operation](store, upload_id)
        assert list(store.iter_staged()) == []

    def test_upload_id_with_trailing_newline_is_unknown(self, store):
        with pytest.raises(UploadNotFound):
            store.begin_upload(new_upload_id() + "\n")
        assert list(store.iter_staged()) == []

    def test_abort_with_path_like_upload_id_cannot_touch_blobs(self, store):
        digest = put(store, PAYLOAD)
        hex_digest = digest.removeprefix("sha256:")
        for upload_id in (f"../sha256/{hex_digest[:2]}/{hex_digest}", "../sha256", ".."):
            with contextlib.suppress(UploadNotFound):
                store.abort_upload(upload_id)
        assert read_all(store, digest) == PAYLOAD

    def test_begin_upload_is_idempotent_and_keeps_staged_bytes(self, store):
        upload_id = stage(store, PAYLOAD)
        store.begin_upload(upload_id)
        assert store.staged_size(upload_id) == len(PAYLOAD)

    def test_writer_close_returns_size_and_is_safe_twice(self, store):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        writer = store.open_upload(upload_id, 0)
        writer.write(PAYLOAD)
        assert writer.close() == len(PAYLOAD)
        assert writer.close() == len(PAYLOAD)

    @pytest.mark.parametrize(("staged", "offset"), [(0, 1), (10, 0), (10, 5), (10, 11), (10, 99)])
    def test_open_upload_at_wrong_offset_reports_current_size(self, store, staged, offset):
        upload_id = stage(store, PAYLOAD[:staged])
        with pytest.raises(UploadOffsetMismatch) as excinfo:
            store.open_upload(upload_id, offset)
        assert excinfo.value.code == "UPLOAD_OFFSET_MISMATCH"
        assert excinfo.value.extra["offset"] == staged

    def test_refused_open_leaves_session_writable(self, store):
        upload_id = stage(store, PAYLOAD[:10])
        with pytest.raises(UploadOffsetMismatch):
            store.open_upload(upload_id, 0)
        writer = store.open_upload(upload_id, 10)
        writer.write(PAYLOAD[10:])
        writer.close()
        store.finish_upload(upload_id, digest_bytes(PAYLOAD), len(PAYLOAD))
        assert read_all(store, digest_bytes(PAYLOAD)) == PAYLOAD

    @pytest.mark.parametrize("second", ["same", "fresh"])
    def test_second_writer_on_a_session_is_refused(self, store, root, second):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        writer = store.open_upload(upload_id, 0)
        writer.write(b"abc")
        other = store if second == "same" else self.make_store(root)
        with pytest.raises(UploadConflict) as excinfo:
            other.open_upload(upload_id, 3)
        assert excinfo.value.code == "UPLOAD_BUSY"
        writer.close()

    def test_session_is_writable_again_once_writer_closes(self, store):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        first = store.open_upload(upload_id, 0)
        first.write(PAYLOAD[:3])
        first.close()
        second = store.open_upload(upload_id, 3)
        second.write(PAYLOAD[3:])
        second.close()
        store.finish_upload(upload_id, digest_bytes(PAYLOAD), len(PAYLOAD))
        assert read_all(store, digest_bytes(PAYLOAD)) == PAYLOAD

    @pytest.mark.parametrize("resumer", ["same", "fresh"])
    @pytest.mark.parametrize("finisher", ["same", "fresh", "original"])
    def test_upload_resumes_where_it_stopped(self, store, root, resumer, finisher):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        writer = store.open_upload(upload_id, 0)
        writer.write(PAYLOAD[:17])
        writer.close()

        resuming = store if resumer == "same" else self.make_store(root)
        offset = resuming.staged_size(upload_id)
        assert offset == 17
        writer = resuming.open_upload(upload_id, offset)
        writer.write(PAYLOAD[offset:])
        assert writer.close() == len(PAYLOAD)

        finishing = {"same": resuming, "fresh": self.make_store(root), "original": store}
        finishing[finisher].finish_upload(upload_id, digest_bytes(PAYLOAD), len(PAYLOAD))
        assert read_all(self.make_store(root), digest_bytes(PAYLOAD)) == PAYLOAD
        assert_session_gone(store, upload_id)

    # Verification and commit

    def test_finish_with_wrong_digest_stores_nothing(self, store):
        upload_id = stage(store, PAYLOAD)
        declared = digest_bytes(b"something else")
        with pytest.raises(DigestMismatch) as excinfo:
            store.finish_upload(upload_id, declared, len(PAYLOAD))
        assert excinfo.value.code == "DIGEST_MISMATCH"
        assert store.stat(declared) is None
        assert store.stat(digest_bytes(PAYLOAD)) is None
        assert list(store.iter_blobs()) == []
        assert_session_gone(store, upload_id)

    @pytest.mark.parametrize("declared", [0, len(PAYLOAD) - 1, len(PAYLOAD) + 1])
    def test_finish_with_wrong_size_stores_nothing(self, store, declared):
        upload_id = stage(store, PAYLOAD)
        with pytest.raises(SizeMismatch) as excinfo:
            store.finish_upload(upload_id, digest_bytes(PAYLOAD), declared)
        assert excinfo.value.code == "SIZE_MISMATCH"
        assert store.stat(digest_bytes(PAYLOAD)) is None
        assert list(store.iter_blobs()) == []
        assert_session_gone(store, upload_id)

    def test_failed_upload_leaves_existing_blob_intact(self, store):
        digest = put(store, PAYLOAD)
        impostor = stage(store, PAYLOAD.upper())
        with pytest.raises(DigestMismatch):
            store.finish_upload(impostor, digest, len(PAYLOAD))
        assert read_all(store, digest) == PAYLOAD

    def test_finish_with_malformed_digest_raises_digest_invalid(self, store):
        upload_id = stage(store, PAYLOAD)
        with pytest.raises(DigestInvalid):
            store.finish_upload(upload_id, "sha256:abc", len(PAYLOAD))
        assert list(store.iter_blobs()) == []

    def test_finishing_an_existing_blob_discards_the_staged_copy(self, store):
        digest = put(store, PAYLOAD)
        upload_id = stage(store, PAYLOAD)
        store.finish_upload(upload_id, digest, len(PAYLOAD))
        assert read_all(store, digest) == PAYLOAD
        assert [info.digest for info in store.iter_blobs()] == [digest]
        assert_session_gone(store, upload_id)

    @pytest.mark.parametrize("repeater", ["same", "fresh"])
    def test_finish_is_safe_to_repeat(self, store, root, repeater):
        upload_id = stage(store, PAYLOAD)
        digest = digest_bytes(PAYLOAD)
        store.finish_upload(upload_id, digest, len(PAYLOAD))
        other = store if repeater == "same" else self.make_store(root)
        other.finish_upload(upload_id, digest, len(PAYLOAD))
        assert read_all(store, digest) == PAYLOAD
        assert_session_gone(store, upload_id)

    def test_abort_discards_staging_and_is_idempotent(self, store):
        upload_id = stage(store, PAYLOAD)
        store.abort_upload(upload_id)
        store.abort_upload(upload_id)
        assert_session_gone(store, upload_id)
        assert list(store.iter_blobs()) == []
        with pytest.raises(UploadNotFound):
            store.open_upload(upload_id, 0)

    def test_abort_of_never_begun_upload_is_harmless(self, store):
        store.abort_upload(new_upload_id())
        assert list(store.iter_staged()) == []

    def test_empty_blob_round_trips(self, store):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        assert store.open_upload(upload_id, 0).close() == 0
        store.finish_upload(upload_id, EMPTY_DIGEST, 0)
        assert store.stat(EMPTY_DIGEST) == 0
        assert read_all(store, EMPTY_DIGEST) == b""
        assert read_all(store, EMPTY_DIGEST, 0, 0) == b""

    def test_empty_blob_needs_no_writer(self, store):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        store.finish_upload(upload_id, EMPTY_DIGEST, 0)
        assert store.stat(EMPTY_DIGEST) == 0

    def test_large_blob_in_odd_chunks_round_trips_exactly(self, store):
        data = random.Random(5).randbytes(5 * MiB)
        digest = put(store, data, ODD_CHUNKS)
        assert store.stat(digest) == len(data)
        assert read_all(store, digest) == data
        windows = [(MiB - 3, 7), (0, MiB + 1), (len(data) - 5, None), (3 * MiB, 4 * MiB)]
        for offset, length in windows:
            end = None if length is None else offset + length
            assert read_all(store, digest, offset, length) == data[offset:end]

    def test_large_blob_resumed_on_another_instance_round_trips_exactly(self, store, root):
        data = random.Random(6).randbytes(5 * MiB + 1)
        split = 2 * MiB + 12_345
        upload_id = stage(store, data[:split], ODD_CHUNKS)
        other = self.make_store(root)
        writer = other.open_upload(upload_id, split)
        for piece in pieces(data[split:], ODD_CHUNKS[::-1]):
            writer.write(piece)
        writer.close()
        other.finish_upload(upload_id, digest_bytes(data), len(data))
        assert read_all(store, digest_bytes(data)) == data

    @pytest.mark.parametrize("head", [0, 5000], ids=["aligned", "unaligned"])
    def test_writer_takes_views_of_buffers_the_caller_reuses(self, store, head):
        """The server hands a writer views of a few aligned buffers it refills: a writer
        is done with one once the next ``write`` returned (``UploadWriter.write``)."""
        data = random.Random(7).randbytes(head + 3 * BUFFER + 1000)
        ring = [take_buffer() for _ in range(2)]
        try:
            upload_id = new_upload_id()
            store.begin_upload(upload_id)
            writer = store.open_upload(upload_id, 0)
            if head:
                writer.write(data[:head])
            for n, start in enumerate(range(head, len(data), BUFFER)):
                piece = data[start : start + BUFFER]
                buffer = ring[n % 2]
                buffer.view[: len(piece)] = piece  # overwrites what the write before last took
                writer.write(buffer.view[: len(piece)])
            assert writer.close() == len(data)
            store.finish_upload(upload_id, digest_bytes(data), len(data))
        finally:
            for buffer in ring:
                give_buffer(buffer)
        assert read_all(store, digest_bytes(data)) == data

    # Integrity under misuse

    def test_writer_left_open_cannot_alter_committed_blob(self, store):
        upload_id = new_upload_id()
        store.begin_upload(upload_id)
        writer = store.open_upload(upload_id, 0)
        writer.write(PAYLOAD)
        digest = digest_bytes(PAYLOAD)
        try:
            store.finish_upload(upload_id, digest, len(PAYLOAD))
        except UploadConflict:
            writer.close()
            return
        # The stale writer may refuse or accept these bytes; the blob must not change.
        with contextlib.suppress(Exception):
            writer.write(b"appended after commit")
            writer.close()
        assert store.stat(digest) == len(PAYLOAD)
        assert read_all(store, digest) == PAYLOAD

    def test_session_restarted_elsewhere_is_verified_against_its_new_bytes(self, store, root):
        upload_id = stage(store, b"original bytes")
        other = self.make_store(root)
        other.abort_upload(upload_id)
        other.begin_upload(upload_id)
        writer = other.open_upload(upload_id, 0)
        writer.write(b"replaced bytes")  # same length, different content
        writer.close()
        with pytest.raises(DigestMismatch):
            store.finish_upload(upload_id, digest_bytes(b"original bytes"), 14)
        assert store.stat(digest_bytes(b"original bytes")) is None
