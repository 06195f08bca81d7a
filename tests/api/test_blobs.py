"""Blobs over HTTP: monolithic and resumable uploads, verified storage, ranged downloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from modeldepot.db.types import utcnow
from modeldepot.manifest import MAX_FILE_SIZE
from modeldepot.registry.uploads import SWEEPER
from tests.api.helpers import (
    API,
    assert_json,
    assert_problem,
    digest_of,
    put_blob,
)

DATA = b"0123456789"
DIGEST = digest_of(DATA)


def blob_url(digest: str) -> str:
    return f"{API}/blobs/{digest}"


def upload_url(upload_id: str, *sub: str) -> str:
    return "/".join([f"{API}/uploads", upload_id, *sub])


def stored_files(registry, area: str) -> list[Path]:
    """Files in one area of the local blob store: ``sha256`` (blobs) or ``uploads``."""
    return [p for p in (registry.store.root / area).rglob("*") if p.is_file()]


def missing(api, digests: list[str]) -> list[str]:
    return assert_json(api.post(f"{API}/blobs/missing", json={"digests": digests}), 200)["missing"]


def open_session(api, digest: str = DIGEST, size: int = len(DATA)) -> str:
    session = assert_json(api.post(f"{API}/uploads", json={"digest": digest, "size": size}), 201)
    assert (session["digest"], session["size"], session["offset"]) == (digest, size, 0)
    assert session["complete"] is False
    return session["id"]  # type: ignore[no-any-return]


def append(api, upload_id: str, data: bytes, offset: int):
    return api.patch(upload_url(upload_id), content=data, headers={"Upload-Offset": str(offset)})


def assert_absent(api, registry, digest: str) -> None:
    assert api.head(blob_url(digest)).status_code == 404
    assert missing(api, [digest]) == [digest]
    assert stored_files(registry, "sha256") == []


# --- monolithic upload and download ------------------------------------------------


def test_put_blob_stores_it_verified(api, registry) -> None:
    stored = assert_json(api.put(blob_url(DIGEST), content=DATA), 201)
    assert (stored["digest"], stored["size"], stored["offset"]) == (DIGEST, 10, 10)
    assert stored["complete"] is True
    assert missing(api, [DIGEST]) == []
    assert len(stored_files(registry, "sha256")) == 1
    assert stored_files(registry, "uploads") == []


def test_head_and_get_serve_a_blob_with_immutable_caching(api) -> None:
    put_blob(api, DATA)
    head = api.head(blob_url(DIGEST))
    got = api.get(blob_url(DIGEST))
    assert (head.status_code, head.content) == (200, b"")
    assert (got.status_code, got.content) == (200, DATA)
    for response in (head, got):
        assert response.headers["etag"] == f'"{DIGEST}"'
        assert "immutable" in response.headers["cache-control"]
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["content-length"] == "10"
        assert response.headers["content-type"] == "application/octet-stream"


def test_get_blob_with_matching_if_none_match_is_304(api) -> None:
    put_blob(api, DATA)
    response = api.get(blob_url(DIGEST), headers={"If-None-Match": f'"{DIGEST}"'})
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == f'"{DIGEST}"'


@pytest.mark.parametrize("header", ["weak", "star"])
def test_if_none_match_uses_weak_comparison_and_star(api, header: str) -> None:
    put_blob(api, DATA)
    value = f'W/"{DIGEST}"' if header == "weak" else "*"
    assert api.get(blob_url(DIGEST), headers={"If-None-Match": value}).status_code == 304


def test_range_requests_are_206_with_the_selected_bytes(api) -> None:
    put_blob(api, DATA)
    for header, body, content_range in [
        ("bytes=2-5", b"2345", "bytes 2-5/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=4-", b"456789", "bytes 4-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
        ("bytes=-20", DATA, "bytes 0-9/10"),
        ("bytes=9-9", b"9", "bytes 9-9/10"),
    ]:
        response = api.get(blob_url(DIGEST), headers={"Range": header})
        assert (response.status_code, response.content) == (206, body), header
        assert response.headers["content-range"] == content_range, header
        assert response.headers["content-length"] == str(len(body)), header


def test_range_past_the_end_is_416_with_content_range_star(api) -> None:
    put_blob(api, DATA)
    for header in ("bytes=10-", "bytes=100-200", "bytes=-0"):
        response = api.get(blob_url(DIGEST), headers={"Range": header})
        assert_problem(response, 416, "RANGE_NOT_SATISFIABLE", header)
        assert response.headers["content-range"] == "bytes */10", header


def test_unusable_range_headers_are_ignored(api) -> None:
    put_blob(api, DATA)
    for header in ("bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=x-", "bytes=-"):
        response = api.get(blob_url(DIGEST), headers={"Range": header})
        assert (response.status_code, response.content) == (200, DATA), header


def test_range_with_stale_if_range_serves_the_whole_blob(api) -> None:
    put_blob(api, DATA)
    headers = {"Range": "bytes=0-1", "If-Range": '"sha256:other"'}
    response = api.get(blob_url(DIGEST), headers=headers)
    assert (response.status_code, response.content) == (200, DATA)


def test_empty_blob_is_stored_and_served(api) -> None:
    digest = put_blob(api, b"")
    response = api.get(blob_url(digest))
    assert (response.status_code, response.content) == (200, b"")


def test_suffix_range_of_an_empty_blob_serves_it_whole(api) -> None:
    digest = put_blob(api, b"")
    response = api.get(blob_url(digest), headers={"Range": "bytes=-3"})
    assert (response.status_code, response.content) == (200, b"")
    assert "content-range" not in response.headers


def test_get_absent_blob_is_404_blob_unknown(api) -> None:
    assert_problem(api.get(blob_url(DIGEST)), 404, "BLOB_UNKNOWN")
    assert api.head(blob_url(DIGEST)).status_code == 404


def test_put_blob_not_matching_its_digest_is_400_digest_mismatch_and_stores_nothing(
    api, registry
) -> None:
    response = api.put(blob_url(DIGEST), content=b"9876543210")
    body = assert_problem(response, 400, "DIGEST_MISMATCH")
    assert (body["expected"], body["actual"]) == (DIGEST, digest_of(b"9876543210"))
    assert_absent(api, registry, DIGEST)
    assert stored_files(registry, "uploads") == []


def test_putting_a_stored_blob_again_keeps_one_copy(api, registry) -> None:
    put_blob(api, DATA)
    assert api.put(blob_url(DIGEST), content=DATA).status_code == 201
    assert len(stored_files(registry, "sha256")) == 1
    assert api.get(blob_url(DIGEST)).content == DATA


def test_put_blob_without_content_length_is_400_invalid_input(api, registry) -> None:
    response = api.put(blob_url(DIGEST), content=iter([DATA]))
    assert_problem(response, 400, "INVALID_INPUT")
    assert_absent(api, registry, DIGEST)


def test_malformed_digest_in_blob_url_is_400_digest_invalid(api) -> None:
    digests = {
        "short": "sha256:" + "0" * 63,
        "uppercase": "sha256:" + "A" * 64,
        "other algorithm": "md5:" + "0" * 32,
        "no prefix": "0" * 64,
        "word": "nope",
    }
    for case, digest in digests.items():
        for method in ("GET", "PUT"):
            response = api.request(method, blob_url(digest), content=DATA)
            assert_problem(response, 400, "DIGEST_INVALID", (method, case))
        assert api.head(blob_url(digest)).status_code == 400, case


# --- /blobs/missing ----------------------------------------------------------------


def test_missing_blobs_lists_only_absent_digests_in_order_without_repeats(api) -> None:
    present = put_blob(api, b"present")
    first, second = digest_of(b"first"), digest_of(b"second")
    assert missing(api, [first, present, second, first, present]) == [first, second]
    assert missing(api, []) == []


def test_missing_blobs_with_a_malformed_digest_is_400_digest_invalid(api) -> None:
    response = api.post(f"{API}/blobs/missing", json={"digests": [DIGEST, "sha256:nope"]})
    assert_problem(response, 400, "DIGEST_INVALID")


def test_missing_blobs_without_a_digest_list_is_422_invalid_input(api) -> None:
    response = api.post(f"{API}/blobs/missing", json={"digests": "sha256:x"})
    assert_problem(response, 422, "INVALID_INPUT")


# --- resumable upload sessions -----------------------------------------------------


def test_session_upload_in_two_parts_stores_the_blob(api, registry) -> None:
    upload_id = open_session(api)
    assert assert_json(append(api, upload_id, DATA[:4], 0), 200)["offset"] == 4
    state = assert_json(api.get(upload_url(upload_id)), 200)
    assert (state["offset"], state["complete"]) == (4, False)
    assert assert_json(append(api, upload_id, DATA[4:], 4), 200)["offset"] == 10
    done = assert_json(api.post(upload_url(upload_id, "complete")), 200)
    assert (done["complete"], done["offset"], done["digest"]) == (True, 10, DIGEST)
    assert api.get(blob_url(DIGEST)).content == DATA
    assert missing(api, [DIGEST]) == []
    assert_problem(api.get(upload_url(upload_id)), 404, "UPLOAD_UNKNOWN")
    assert stored_files(registry, "uploads") == []


def test_patch_at_the_wrong_offset_is_409_upload_offset_mismatch(api) -> None:
    upload_id = open_session(api)
    append(api, upload_id, DATA[:4], 0)
    for wrong in (0, 2, 6):
        response = append(api, upload_id, DATA[wrong:], wrong)
        body = assert_problem(response, 409, "UPLOAD_OFFSET_MISMATCH")
        assert body["offset"] == 4
        assert response.headers["upload-offset"] == "4"
    assert assert_json(api.get(upload_url(upload_id)), 200)["offset"] == 4


def test_patch_past_the_declared_size_is_400_size_mismatch(api) -> None:
    upload_id = open_session(api)
    append(api, upload_id, DATA[:4], 0)
    response = append(api, upload_id, DATA[4:] + b"extra", 4)
    body = assert_problem(response, 400, "SIZE_MISMATCH")
    assert body["expected"] == 10
    assert assert_json(api.get(upload_url(upload_id)), 200)["offset"] == 4


def test_patch_without_upload_offset_is_422_invalid_input(api) -> None:
    upload_id = open_session(api)
    response = api.patch(upload_url(upload_id), content=DATA)
    assert_problem(response, 422, "INVALID_INPUT")


def test_complete_before_every_byte_arrived_is_409_upload_incomplete_and_keeps_them(
    api, registry
) -> None:
    upload_id = open_session(api)
    append(api, upload_id, DATA[:4], 0)
    body = assert_problem(api.post(upload_url(upload_id, "complete")), 409, "UPLOAD_INCOMPLETE")
    assert body["offset"] == 4
    assert_absent(api, registry, DIGEST)
    assert assert_json(api.get(upload_url(upload_id)), 200)["offset"] == 4
    append(api, upload_id, DATA[4:], 4)
    assert assert_json(api.post(upload_url(upload_id, "complete")), 200)["complete"] is True
    assert api.get(blob_url(DIGEST)).content == DATA


def test_complete_with_the_wrong_bytes_is_400_digest_mismatch(api, registry) -> None:
    upload_id = open_session(api)
    append(api, upload_id, b"9876543210", 0)
    assert_problem(api.post(upload_url(upload_id, "complete")), 400, "DIGEST_MISMATCH")
    assert_problem(api.get(upload_url(upload_id)), 404, "UPLOAD_UNKNOWN")
    assert_absent(api, registry, DIGEST)
    assert stored_files(registry, "uploads") == []


def test_unknown_upload_is_404_upload_unknown(api) -> None:
    for upload_id in ("0" * 32, "not-an-id"):
        for method, sub in [("GET", ()), ("PATCH", ()), ("POST", ("complete",)), ("DELETE", ())]:
            # A completion's body is JSON; the others' is bytes.
            body = {"json": {}} if sub else {"content": b"x"}
            response = api.request(
                method, upload_url(upload_id, *sub), headers={"Upload-Offset": "0"}, **body
            )
            assert_problem(response, 404, "UPLOAD_UNKNOWN", (method, upload_id))


def test_delete_aborts_an_upload_session(api, registry) -> None:
    upload_id = open_session(api)
    append(api, upload_id, DATA[:4], 0)
    response = api.delete(upload_url(upload_id))
    assert (response.status_code, response.content) == (204, b"")
    assert_problem(api.get(upload_url(upload_id)), 404, "UPLOAD_UNKNOWN")
    assert_problem(append(api, upload_id, DATA[4:], 4), 404, "UPLOAD_UNKNOWN")
    assert stored_files(registry, "uploads") == []
    assert_absent(api, registry, DIGEST)


def test_create_upload_with_a_malformed_digest_is_400_digest_invalid(api) -> None:
    response = api.post(f"{API}/uploads", json={"digest": "sha256:xyz", "size": 1})
    assert_problem(response, 400, "DIGEST_INVALID")


def test_create_upload_with_a_size_out_of_range_is_rejected(api) -> None:
    for size, status in [(-1, 422), (MAX_FILE_SIZE + 1, 400)]:
        response = api.post(f"{API}/uploads", json={"digest": DIGEST, "size": size})
        assert_problem(response, status, "INVALID_INPUT", size)


def test_create_upload_with_a_boolean_size_is_rejected(api) -> None:
    response = api.post(f"{API}/uploads", json={"digest": DIGEST, "size": True})
    assert 400 <= response.status_code < 500
    assert response.json()["code"] == "INVALID_INPUT"


def test_upload_session_expires_after_the_expiry_period(api, registry) -> None:
    upload_id = open_session(api)
    append(api, upload_id, DATA[:4], 0)
    assert registry.uploads.expire_uploads(SWEEPER) == 0
    assert assert_json(api.get(upload_url(upload_id)), 200)["offset"] == 4
    later = utcnow() + timedelta(seconds=registry.settings.upload_expiry_seconds + 60)
    assert registry.uploads.expire_uploads(SWEEPER, now=later) == 1
    assert_problem(api.get(upload_url(upload_id)), 404, "UPLOAD_UNKNOWN")
    assert_problem(append(api, upload_id, DATA[4:], 4), 404, "UPLOAD_UNKNOWN")
    assert stored_files(registry, "uploads") == []


def test_new_session_expires_after_the_expiry_period(api, registry) -> None:
    session = assert_json(api.post(f"{API}/uploads", json={"digest": DIGEST, "size": 10}), 201)
    lifetime = datetime.fromisoformat(session["expires_at"]) - datetime.fromisoformat(
        session["created_at"]
    )
    assert lifetime == timedelta(seconds=registry.settings.upload_expiry_seconds)
