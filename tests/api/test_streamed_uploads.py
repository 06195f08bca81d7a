"""Streamed uploads over HTTP: sessions whose digest comes with their completion, and
``POST /blobs/absent``, which tells a client by sample digest that the server certainly
lacks a large file."""

from __future__ import annotations

import os

from sqlalchemy import select, update

from modeldepot.db.tables import blobs
from modeldepot.db.types import utcnow
from modeldepot.sample import SAMPLE_MIN_SIZE, WINDOW, sample_digest, window_offsets
from tests.api.helpers import API, assert_json, assert_problem, digest_of, put_blob
from tests.api.test_blobs import append, missing, stored_files, upload_url

DATA = os.urandom(1000)
BIG = SAMPLE_MIN_SIZE + 4096


def sample_of(data: bytes) -> str:
    return sample_digest(len(data), lambda offset, length: [data[offset : offset + length]])


def absent(api, files: list[tuple[int, str]]) -> list[int]:
    query = {"files": [{"size": size, "sample": sample} for size, sample in files]}
    return assert_json(api.post(f"{API}/blobs/absent", json=query), 200)["absent"]  # type: ignore[no-any-return]


def open_streamed(api, size: int = len(DATA)) -> str:
    session = assert_json(api.post(f"{API}/uploads", json={"size": size}), 201)
    assert (session["digest"], session["size"], session["offset"]) == (None, size, 0)
    return session["id"]  # type: ignore[no-any-return]


def complete(api, upload_id: str, digest: str | None = None):
    body = {"digest": digest} if digest is not None else {}
    return api.post(upload_url(upload_id, "complete"), json=body)


# --- sessions without a digest ---------------------------------------------------------


def test_a_streamed_session_stores_the_blob_under_the_digest_its_completion_names(api) -> None:
    upload_id = open_streamed(api)
    assert append(api, upload_id, DATA[:400], 0).status_code == 200
    assert append(api, upload_id, DATA[400:], 400).status_code == 200
    assert assert_json(api.get(upload_url(upload_id)), 200)["digest"] is None
    done = assert_json(complete(api, upload_id, digest_of(DATA)), 200)
    assert (done["digest"], done["complete"], done["offset"]) == (digest_of(DATA), True, 1000)
    assert api.get(f"{API}/blobs/{digest_of(DATA)}").content == DATA
    assert missing(api, [digest_of(DATA)]) == []
    assert_problem(complete(api, upload_id, digest_of(DATA)), 404, "UPLOAD_UNKNOWN")


def test_completing_a_streamed_session_without_a_digest_is_refused_and_keeps_the_bytes(
    api,
) -> None:
    upload_id = open_streamed(api)
    append(api, upload_id, DATA, 0)
    body = assert_problem(complete(api, upload_id), 400, "INVALID_INPUT")
    assert "without a digest" in body["detail"]
    assert_problem(api.post(upload_url(upload_id, "complete")), 400, "INVALID_INPUT")
    assert assert_json(api.get(upload_url(upload_id)), 200)["offset"] == len(DATA)
    assert assert_json(complete(api, upload_id, digest_of(DATA)), 200)["complete"] is True


def test_a_streamed_session_whose_bytes_do_not_match_the_named_digest_stores_nothing(
    api, registry
) -> None:
    """What a client sees when its file changed while it was sent."""
    upload_id = open_streamed(api)
    append(api, upload_id, DATA, 0)
    other = digest_of(b"what the client hashed")
    assert_problem(complete(api, upload_id, other), 400, "DIGEST_MISMATCH")
    assert_problem(api.get(upload_url(upload_id)), 404, "UPLOAD_UNKNOWN")
    assert missing(api, [other, digest_of(DATA)]) == [other, digest_of(DATA)]
    assert stored_files(registry, "sha256") == []
    assert stored_files(registry, "uploads") == []


def test_a_streamed_session_cannot_be_completed_twice_under_different_digests(api) -> None:
    """Once a completion named a digest (then failed, say on missing bytes), it holds."""
    upload_id = open_streamed(api)
    append(api, upload_id, DATA[:10], 0)
    assert_problem(complete(api, upload_id, digest_of(DATA)), 409, "UPLOAD_INCOMPLETE")
    assert assert_json(api.get(upload_url(upload_id)), 200)["digest"] == digest_of(DATA)
    body = assert_problem(complete(api, upload_id, digest_of(b"other")), 400, "INVALID_INPUT")
    assert digest_of(DATA) in body["detail"]
    append(api, upload_id, DATA[10:], 10)
    assert assert_json(complete(api, upload_id), 200)["digest"] == digest_of(DATA)


def test_a_session_opened_with_a_digest_takes_only_that_digest_at_completion(api) -> None:
    created = api.post(f"{API}/uploads", json={"digest": digest_of(DATA), "size": len(DATA)})
    upload_id = assert_json(created, 201)["id"]
    append(api, upload_id, DATA, 0)
    assert_problem(complete(api, upload_id, digest_of(b"x")), 400, "INVALID_INPUT")
    assert_problem(complete(api, upload_id, "sha256:nothex"), 400, "DIGEST_INVALID")
    assert assert_json(complete(api, upload_id, digest_of(DATA)), 200)["complete"] is True


def test_bad_completion_bodies_get_clear_errors(api) -> None:
    upload_id = open_streamed(api)
    for body in ([1], {"digest": 5}):
        response = api.post(upload_url(upload_id, "complete"), json=body)
        assert_problem(response, 422, "INVALID_INPUT", body)


# --- which large files the server certainly lacks ---------------------------------------


def test_absent_names_the_files_no_stored_blob_matches(api, registry) -> None:
    stored = os.urandom(BIG)
    put_blob(api, stored)
    same_size = bytearray(stored)
    same_size[0] ^= 1
    alike_but_different = bytearray(stored)
    alike_but_different[window_offsets(BIG)[1] - 1] ^= 1  # between two windows
    files = [
        (BIG, sample_of(stored)),  # stored: not absent
        (BIG, sample_of(bytes(same_size))),  # same size, other head: absent
        (BIG + 1, sample_of(stored + b"x")),  # no blob of this size: absent
        (BIG, sample_of(bytes(alike_but_different))),  # looks stored: not absent
        (SAMPLE_MIN_SIZE - 1, sample_of(stored)),  # too small to tell: never absent
    ]
    assert absent(api, files) == [1, 2]
    assert absent(api, []) == []


def test_absent_computes_a_stored_blobs_sample_once_and_records_it(
    api, registry, monkeypatch
) -> None:
    stored = os.urandom(BIG)
    digest = put_blob(api, stored)
    with registry.db.read() as conn:
        assert conn.execute(select(blobs.c.sample).where(blobs.c.digest == digest)).scalar() is None
    reads: list[tuple[int, int | None]] = []
    real_read = registry.store.read

    def read(digest: str, offset: int = 0, length: int | None = None):
        reads.append((offset, length))
        return real_read(digest, offset, length)

    monkeypatch.setattr(registry.store, "read", read)
    assert absent(api, [(BIG, sample_of(stored))]) == []
    assert reads == [(offset, WINDOW) for offset in window_offsets(BIG)]
    with registry.db.read() as conn:
        recorded = conn.execute(select(blobs.c.sample).where(blobs.c.digest == digest)).scalar()
    assert recorded == sample_of(stored)
    assert absent(api, [(BIG, sample_of(stored))]) == []
    assert len(reads) == len(window_offsets(BIG))  # not read again


def test_absent_ignores_blobs_being_collected_and_blobs_whose_bytes_are_gone(api, registry) -> None:
    doomed, vanished = os.urandom(BIG), os.urandom(BIG)
    doomed_digest, vanished_digest = put_blob(api, doomed), put_blob(api, vanished)
    with registry.db.write() as conn:
        conn.execute(
            update(blobs).where(blobs.c.digest == doomed_digest).values(collecting_at=utcnow())
        )
    registry.store.delete(vanished_digest)
    assert absent(api, [(BIG, sample_of(doomed)), (BIG, sample_of(vanished))]) == [0, 1]


def test_bad_absent_queries_get_clear_errors(api) -> None:
    sample = sample_of(os.urandom(BIG))
    cases = [
        ({"files": [{"size": -1, "sample": sample}]}, 422),
        ({"files": [{"size": "9", "sample": sample}]}, 422),
        ({"files": [{"size": BIG}]}, 422),
        ({"files": [{"size": BIG, "sample": "sha256:zz"}]}, 400),
        ({"files": [{"size": 2**62, "sample": sample}]}, 400),
        ({"digests": []}, 422),
    ]
    for body, status in cases:
        response = api.post(f"{API}/blobs/absent", json=body)
        code = "DIGEST_INVALID" if "zz" in str(body) else "INVALID_INPUT"
        assert_problem(response, status, code, body)
