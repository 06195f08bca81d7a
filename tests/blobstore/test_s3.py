"""``S3BlobStore``: the conformance suite against a local S3 server, plus what only a
bucket can show."""

from __future__ import annotations

import base64
import hashlib
import random
import subprocess
import sys
import time

import pytest

from modeldepot.blobstore import paths
from modeldepot.blobstore.factory import create_blobstore
from modeldepot.blobstore.s3 import S3BlobStore
from modeldepot.blobstore.s3assembly import MAX_PARTS, MIN_PART, part_floor, plan_parts
from modeldepot.blobstore.s3session import READ_CHUNK, stream
from modeldepot.config import ServerSettings
from modeldepot.digest import digest_bytes
from modeldepot.errors import DigestMismatch, InvalidInput, UploadConflict, UploadNotFound
from tests.conformance.blobstore import (
    PAYLOAD,
    BlobStoreConformance,
    MiB,
    assert_session_gone,
    new_upload_id,
    pieces,
    put,
    read_all,
    stage,
)


def prefix_for(root: object) -> str:
    """One key prefix per conformance root: the same root is the same storage."""
    return f"conformance/{hashlib.sha256(str(root).encode()).hexdigest()[:16]}/"


class TestS3BlobStore(BlobStoreConformance):
    @pytest.fixture(autouse=True)
    def _bucket(self, s3_client, s3_bucket):
        self.client = s3_client
        self.bucket = s3_bucket

    def make_store(self, root):
        return S3BlobStore(self.bucket, prefix_for(root), client=self.client)


class TestS3BlobStoreInSmallPieces(TestS3BlobStore):
    """The suite again with 1 MiB pieces: large blobs are staged as many pieces, too
    small to be copied, and gathered into parts."""

    def make_store(self, root):
        return S3BlobStore(self.bucket, prefix_for(root), client=self.client, part_size=MiB)


# What only a bucket can show


@pytest.fixture
def prefix(request) -> str:
    return f"extra/{hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]}/"


@pytest.fixture
def store(s3_client, s3_bucket, prefix) -> S3BlobStore:
    return S3BlobStore(s3_bucket, prefix, client=s3_client)


def keys_under(client, bucket: str, prefix: str) -> set[str]:
    paginator = client.get_paginator("list_objects_v2")
    return {
        obj["Key"][len(prefix) :]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", ())
    }


class CallLog:
    """Names of the S3 operations a client makes, in order."""

    def __init__(self, client) -> None:
        self.names: list[str] = []
        client.meta.events.register("before-call.s3", self._record)

    def _record(self, model, **kwargs) -> None:
        self.names.append(model.name)

    def count(self, name: str) -> int:
        return self.names.count(name)


@pytest.fixture
def logged_client(s3_endpoint):
    """A client of its own, so that registering hooks on it touches no other test."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=s3_endpoint, config=Config(s3={"addressing_style": "path"})
    )


def test_bucket_layout_matches_the_paths_docstring(store, s3_client, s3_bucket, prefix):
    digest = put(store, PAYLOAD)
    upload_id = stage(store, b"staged")
    hex_digest = digest.removeprefix("sha256:")

    blob_key = f"sha256/{hex_digest[:2]}/{hex_digest}"
    session = f"uploads/{upload_id}"
    assert keys_under(s3_client, s3_bucket, prefix) == {
        blob_key,
        f"{session}/{paths.SESSION}",
        f"{session}/{paths.piece_name(0)}",
    }
    assert paths.blob_key(digest) == blob_key
    assert paths.upload_piece_key(upload_id, paths.SESSION) == f"{session}/session"
    body = s3_client.get_object(Bucket=s3_bucket, Key=prefix + blob_key)["Body"].read()
    assert body == PAYLOAD
    for top in ("sha256/", "uploads/", "session", "writer", "00000000000000000000"):
        assert top in paths.__doc__


def test_a_writer_holds_the_lease_until_it_closes(store, s3_client, s3_bucket, prefix):
    upload_id = new_upload_id()
    store.begin_upload(upload_id)
    writer = store.open_upload(upload_id, 0)
    lease = f"uploads/{upload_id}/{paths.WRITER}"
    assert lease in keys_under(s3_client, s3_bucket, prefix)
    writer.write(b"abc")
    writer.close()
    assert lease not in keys_under(s3_client, s3_bucket, prefix)


def test_pieces_are_flushed_every_part_size_bytes(s3_client, s3_bucket, prefix):
    store = S3BlobStore(s3_bucket, prefix, client=s3_client, part_size=1000)
    upload_id = stage(store, PAYLOAD * 60, sizes=(333, 7, 1500))  # 2580 bytes
    pieces = sorted(
        key.rsplit("/", 1)[1]
        for key in keys_under(s3_client, s3_bucket, prefix)
        if paths.piece_offset(key.rsplit("/", 1)[1]) is not None
    )
    assert pieces == [paths.piece_name(0), paths.piece_name(1000), paths.piece_name(2000)]
    assert store.staged_size(upload_id) == 2580
    store.finish_upload(upload_id, digest_bytes(PAYLOAD * 60), 2580)
    assert read_all(store, digest_bytes(PAYLOAD * 60)) == PAYLOAD * 60


def test_prefix_is_normalised():
    for given, expected in [("", ""), ("a", "a/"), ("a/b/", "a/b/"), ("/a/b", "a/b/")]:
        assert S3BlobStore("bucket", given, client=object()).prefix == expected


def test_stores_under_different_prefixes_do_not_see_each_other(s3_client, s3_bucket, prefix):
    first = S3BlobStore(s3_bucket, prefix + "one", client=s3_client)
    second = S3BlobStore(s3_bucket, prefix + "one-more", client=s3_client)
    digest = put(first, PAYLOAD)
    stage(first, b"staged")
    assert second.stat(digest) is None
    assert list(second.iter_blobs()) == []
    assert list(second.iter_staged()) == []


def test_stray_objects_are_not_listed_as_blobs_or_uploads(store, s3_client, s3_bucket, prefix):
    digest = put(store, PAYLOAD)
    hex_digest = digest.removeprefix("sha256:")
    upload_id = stage(store, b"staged")
    for stray in (
        "sha256/README",
        "sha256/zz/junk",
        f"sha256/{hex_digest[:2]}/{hex_digest}.tmp",
        f"sha256/00/{hex_digest}",
        "uploads/notanid/session",
        f"uploads/{new_upload_id()}",
        f"uploads/{new_upload_id()}/deeper/session",
    ):
        s3_client.put_object(Bucket=s3_bucket, Key=prefix + stray, Body=b"stray")
    assert [info.digest for info in store.iter_blobs()] == [digest]
    assert [info.upload_id for info in store.iter_staged()] == [upload_id]


def test_pieces_left_without_a_session_are_listed_for_cleanup(store, s3_client, s3_bucket, prefix):
    upload_id = new_upload_id()
    key = prefix + paths.upload_piece_key(upload_id, paths.piece_name(0))
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b"orphan")
    assert [(i.upload_id, i.size) for i in store.iter_staged()] == [(upload_id, 6)]
    with pytest.raises(UploadNotFound):
        store.staged_size(upload_id)
    store.abort_upload(upload_id)
    assert keys_under(s3_client, s3_bucket, prefix) == set()


def test_staged_size_stops_at_a_gap(store, s3_client, s3_bucket, prefix):
    upload_id = stage(store, b"0123456789")
    stray = prefix + paths.upload_piece_key(upload_id, paths.piece_name(20))
    s3_client.put_object(Bucket=s3_bucket, Key=stray, Body=b"after a gap")
    assert store.staged_size(upload_id) == 10
    writer = store.open_upload(upload_id, 10)
    writer.write(b"abcdefghij")
    writer.close()
    # The piece at 20 now follows on, so it counts.
    assert store.staged_size(upload_id) == 31


# Leases


def test_expired_lease_is_taken_over_and_the_stale_writer_refused(s3_client, s3_bucket, prefix):
    store = S3BlobStore(s3_bucket, prefix, client=s3_client, lease_seconds=0)
    upload_id = new_upload_id()
    store.begin_upload(upload_id)
    stale = store.open_upload(upload_id, 0)
    stale.write(b"stale bytes")
    fresh = S3BlobStore(s3_bucket, prefix, client=s3_client).open_upload(upload_id, 0)
    fresh.write(b"fresh bytes")
    assert fresh.close() == 11
    with pytest.raises(UploadConflict):
        stale.write(b" and more")  # its lease is gone
    assert stale.close() == 0  # and it flushes nothing more
    store.finish_upload(upload_id, digest_bytes(b"fresh bytes"), 11)
    assert read_all(store, digest_bytes(b"fresh bytes")) == b"fresh bytes"


def test_a_stale_writer_cannot_overwrite_what_another_wrote(store, s3_client, s3_bucket, prefix):
    upload_id = new_upload_id()
    store.begin_upload(upload_id)
    stale = store.open_upload(upload_id, 0)  # not due to renew its lease for a while
    lease = prefix + paths.upload_piece_key(upload_id, paths.WRITER)
    s3_client.delete_object(Bucket=s3_bucket, Key=lease)  # lost, as to a clock jump
    fresh = store.open_upload(upload_id, 0)
    fresh.write(b"fresh bytes")
    fresh.close()
    stale.write(b"stale bytes")
    with pytest.raises(UploadConflict):
        stale.close()  # the piece at offset 0 exists, and pieces are never rewritten
    assert store.staged_size(upload_id) == 11
    store.finish_upload(upload_id, digest_bytes(b"fresh bytes"), 11)


def test_finishing_renews_the_lease_as_it_reads(logged_client, s3_bucket, prefix):
    store = S3BlobStore(s3_bucket, prefix, client=logged_client, part_size=1000, lease_seconds=0)
    data = PAYLOAD * 100
    upload_id = stage(store, data)
    finishing = S3BlobStore(s3_bucket, prefix, client=logged_client, lease_seconds=0)
    calls = CallLog(logged_client)
    finishing.finish_upload(upload_id, digest_bytes(data), len(data))
    assert calls.count("PutObject") >= 1 + 5  # acquired, then renewed per piece read
    assert read_all(store, digest_bytes(data)) == data


def test_a_live_lease_blocks_a_finisher_from_another_process(store, s3_client, s3_bucket, prefix):
    upload_id = new_upload_id()
    store.begin_upload(upload_id)
    writer = store.open_upload(upload_id, 0)
    writer.write(PAYLOAD)
    other = S3BlobStore(s3_bucket, prefix, client=s3_client)
    with pytest.raises(UploadConflict):
        other.finish_upload(upload_id, digest_bytes(PAYLOAD), len(PAYLOAD))
    writer.close()
    other.finish_upload(upload_id, digest_bytes(PAYLOAD), len(PAYLOAD))
    assert read_all(store, digest_bytes(PAYLOAD)) == PAYLOAD


def test_a_writer_renews_its_lease_while_it_writes(s3_client, s3_bucket, prefix):
    store = S3BlobStore(s3_bucket, prefix, client=s3_client, lease_seconds=3)
    upload_id = new_upload_id()
    store.begin_upload(upload_id)
    writer = store.open_upload(upload_id, 0)
    key = prefix + paths.upload_piece_key(upload_id, paths.WRITER)
    before = s3_client.head_object(Bucket=s3_bucket, Key=key)["ETag"]
    writer.write(b"a")
    assert s3_client.head_object(Bucket=s3_bucket, Key=key)["ETag"] == before
    time.sleep(1.1)  # past a third of the lease
    writer.write(b"b")
    assert s3_client.head_object(Bucket=s3_bucket, Key=key)["ETag"] != before
    writer.close()


# Finishing: verification and assembly


def test_rejected_multipart_upload_leaves_nothing_behind(s3_client, s3_bucket, prefix):
    store = S3BlobStore(s3_bucket, prefix, client=s3_client, part_size=MIN_PART)
    data = random.Random(1).randbytes(2 * MIN_PART + 10)
    upload_id = stage(store, data)
    with pytest.raises(DigestMismatch):
        store.finish_upload(upload_id, digest_bytes(data[:-1] + b"x"), len(data))
    assert keys_under(s3_client, s3_bucket, prefix) == set()
    uploads = s3_client.list_multipart_uploads(Bucket=s3_bucket, Prefix=prefix)
    assert uploads.get("Uploads", []) == []


@pytest.mark.parametrize("finisher", ["writer", "fresh"])
def test_large_pieces_are_copied_server_side(logged_client, s3_bucket, prefix, finisher):
    store = S3BlobStore(s3_bucket, prefix, client=logged_client, part_size=MIN_PART)
    data = random.Random(2).randbytes(3 * MIN_PART + MiB)
    # Resumed twice, so small pieces sit between the large ones.
    split = [MIN_PART + 100, MIN_PART + 200 + MiB // 2]
    upload_id = new_upload_id()
    store.begin_upload(upload_id)
    for start, stop in zip([0, *split], [*split, len(data)], strict=True):
        writer = store.open_upload(upload_id, start)
        for piece in pieces(data[start:stop], (MiB,)):
            writer.write(piece)
        writer.close()
    finishing = (
        store
        if finisher == "writer"
        else S3BlobStore(s3_bucket, prefix, client=logged_client, part_size=MIN_PART)
    )
    calls = CallLog(logged_client)
    finishing.finish_upload(upload_id, digest_bytes(data), len(data))
    # Pieces: 5 MiB | 100 B, 0.5 MiB, 5 MiB | 5 MiB | 0.5 MiB: three copies, one sent.
    assert calls.count("UploadPartCopy") == 3
    assert calls.count("UploadPart") == 1
    assert calls.count("CompleteMultipartUpload") == 1
    # With the running hash known, only the pieces sent are read; else all six.
    assert calls.count("GetObject") == (3 if finisher == "writer" else 6)
    assert read_all(store, digest_bytes(data)) == data
    assert_session_gone(store, upload_id)


@pytest.mark.parametrize("finisher", ["writer", "fresh"])
def test_single_piece_blob_is_copied_with_a_server_side_checksum(
    logged_client, s3_bucket, prefix, finisher
):
    store = S3BlobStore(s3_bucket, prefix, client=logged_client)
    upload_id = stage(store, PAYLOAD)
    finishing = (
        store if finisher == "writer" else S3BlobStore(s3_bucket, prefix, client=logged_client)
    )
    calls = CallLog(logged_client)
    finishing.finish_upload(upload_id, digest_bytes(PAYLOAD), len(PAYLOAD))
    assert calls.count("CopyObject") == 1
    assert calls.count("GetObject") == (0 if finisher == "writer" else 1)
    head = logged_client.head_object(
        Bucket=s3_bucket, Key=prefix + paths.blob_key(digest_bytes(PAYLOAD)), ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(PAYLOAD).digest()).decode()


def check_plan(sizes: list[int], min_part: int) -> list[list[int]]:
    plan = plan_parts(sizes, min_part)
    assert [i for part in plan for i in part] == [i for i, size in enumerate(sizes) if size]
    for number, part in enumerate(plan, start=1):
        part_size = sum(sizes[i] for i in part)
        if number < len(plan):
            assert part_size >= min_part
        if len(part) > 1:  # read and sent: bounded by the minimum plus one piece
            assert part_size < min_part + sizes[part[-1]]
    return plan


def test_plan_copies_large_pieces_and_gathers_small_ones():
    assert check_plan([8, 8, 1, 8, 8, 3, 0, 2], 5) == [[0], [1], [2, 3], [4], [5, 7]]
    assert check_plan([1, 1, 1, 1, 1, 1], 5) == [[0, 1, 2, 3, 4], [5]]
    assert check_plan([3], 5) == [[0]]
    assert check_plan([], 5) == []


@pytest.mark.parametrize("seed", range(20))
def test_plan_keeps_every_part_but_the_last_at_least_the_minimum(seed):
    rng = random.Random(seed)
    sizes = [rng.choice([0, 1, 2, 4, 5, 6, 9, 20]) for _ in range(rng.randrange(1, 40))]
    check_plan(sizes, 5)


def test_plan_of_a_huge_blob_stays_within_the_part_limit():
    sizes = [8 * MiB] * 200_000 + [MiB]  # 1.5 TiB in 8 MiB pieces
    plan = plan_parts(sizes, part_floor(sum(sizes)))
    assert len(plan) <= MAX_PARTS


# Reading


def test_multi_mib_blob_streams_in_bounded_chunks(store):
    data = random.Random(3).randbytes(6 * MiB + 123)
    digest = put(store, data)
    chunks = list(store.read(digest))
    assert len(chunks) >= 6
    assert max(len(chunk) for chunk in chunks) <= READ_CHUNK
    assert b"".join(chunks) == data
    for offset, length in [(MiB - 1, 2), (5 * MiB, None), (123, 4 * MiB), (len(data), 10)]:
        end = None if length is None else offset + length
        assert read_all(store, digest, offset, length) == data[offset:end]


def test_a_read_stopped_early_closes_its_response():
    class Body:
        closed = False

        def iter_chunks(self, size):
            yield from (b"a" * size, b"b" * size)

        def close(self):
            self.closed = True

    body = Body()
    chunks = stream(body)
    assert next(chunks) == b"a" * READ_CHUNK
    chunks.close()
    assert body.closed


# Settings


def test_factory_builds_an_s3_store_from_settings(s3_endpoint, s3_bucket, prefix):
    settings = ServerSettings(
        blobstore="s3",
        s3_bucket=s3_bucket,
        s3_prefix=prefix + "factory",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
    )
    store = create_blobstore(settings)
    assert isinstance(store, S3BlobStore)
    assert store.prefix == prefix + "factory/"
    digest = put(store, PAYLOAD)
    assert read_all(store, digest) == PAYLOAD


def test_factory_reads_the_s3_settings_from_the_environment(
    monkeypatch, s3_endpoint, s3_bucket, prefix
):
    monkeypatch.setenv("MODELDEPOT_BLOBSTORE", "s3")
    monkeypatch.setenv("MODELDEPOT_S3_BUCKET", s3_bucket)
    monkeypatch.setenv("MODELDEPOT_S3_PREFIX", prefix)
    monkeypatch.setenv("MODELDEPOT_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("MODELDEPOT_S3_REGION", "us-east-1")
    store = create_blobstore(ServerSettings.from_env())
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (s3_bucket, prefix)
    assert store.stat(put(store, PAYLOAD)) == len(PAYLOAD)


def test_factory_without_a_bucket_says_which_setting_is_missing():
    with pytest.raises(InvalidInput, match="MODELDEPOT_S3_BUCKET"):
        create_blobstore(ServerSettings(blobstore="s3"))


def test_factory_names_the_known_stores():
    with pytest.raises(InvalidInput, match="local, s3"):
        create_blobstore(ServerSettings(blobstore="floppy"))


def test_boto3_is_loaded_only_when_an_s3_store_is_built():
    code = (
        "import sys, modeldepot.cli.main, modeldepot.blobstore.factory, modeldepot.registry; "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
