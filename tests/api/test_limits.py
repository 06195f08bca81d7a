"""One client cannot exhaust the server: largest blob, open uploads per client, bytes
staged at once, PATCHes that would pass their session, large JSON bodies at once."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from modeldepot.actor import Actor
from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.errors import StagingFull, TooManyUploads
from modeldepot.registry import Registry
from modeldepot.registry.quota import UploadQuota
from modeldepot.server.clients import upload_quota
from modeldepot.server.limits import LARGE_JSON, JsonBodyLimit
from tests.api.helpers import API, assert_json, assert_problem, digest_of

ACTOR = Actor("limits-test")
DATA = b"0123456789"


@pytest.fixture
def limited(api: TestClient, db, settings) -> Iterator[tuple[TestClient, Registry]]:
    """The app serving a registry with small limits: blobs of at most 1000 bytes, 3 open
    uploads a client, 2500 bytes staged at once."""
    settings = dataclasses.replace(
        settings, max_blob_bytes=1000, max_uploads_per_client=3, max_staged_bytes=2500
    )
    registry = Registry(db, LocalBlobStore(settings.blob_dir, fsync=False), settings)
    api.app.state.registry = registry  # type: ignore[attr-defined]
    yield api, registry


def open_session(api: TestClient, size: int) -> httpx.Response:
    return api.post(f"{API}/uploads", json={"digest": digest_of(b"%d" % size), "size": size})


def staged_areas(registry: Registry) -> list[str]:
    return [staged.upload_id for staged in registry.store.iter_staged()]


def test_a_blob_over_the_largest_size_is_413_blob_too_large_on_every_path(limited) -> None:
    api, registry = limited
    problem = assert_problem(open_session(api, 1001), 413, "BLOB_TOO_LARGE")
    assert problem["limit"] == 1000
    streamed = api.post(f"{API}/uploads", json={"size": 1001})
    assert_problem(streamed, 413, "BLOB_TOO_LARGE")
    presigned = api.post(f"{API}/uploads", json={"size": 1001, "presigned": True})
    assert_problem(presigned, 413, "BLOB_TOO_LARGE")
    data = b"x" * 1001
    assert_problem(api.put(f"{API}/blobs/{digest_of(data)}", content=data), 413, "BLOB_TOO_LARGE")
    assert staged_areas(registry) == []
    assert assert_json(open_session(api, 1000), 201)["size"] == 1000


def test_a_client_holds_at_most_its_open_uploads_then_429_too_many_uploads(limited) -> None:
    api, registry = limited
    ids = [assert_json(open_session(api, n), 201)["id"] for n in (1, 2, 3)]
    problem = assert_problem(open_session(api, 4), 429, "TOO_MANY_UPLOADS")
    assert problem["limit"] == 3
    assert_problem(api.post(f"{API}/uploads", json={"size": 4}), 429, "TOO_MANY_UPLOADS")
    assert_problem(api.put(f"{API}/blobs/{digest_of(DATA)}", content=DATA), 429, "TOO_MANY_UPLOADS")
    assert len(staged_areas(registry)) == 3  # the refused ones staged nothing
    # A session completed or cancelled frees its place.
    assert api.delete(f"{API}/uploads/{ids[0]}").status_code == 204
    data = b"4444"
    session = assert_json(
        api.post(f"{API}/uploads", json={"digest": digest_of(data), "size": len(data)}), 201
    )
    api.patch(f"{API}/uploads/{session['id']}", content=data, headers={"Upload-Offset": "0"})
    assert_json(api.post(f"{API}/uploads/{session['id']}/complete"), 200)
    assert_json(open_session(api, 5), 201)


def test_other_clients_uploads_do_not_count_against_a_client(limited) -> None:
    api, registry = limited
    other = UploadQuota(client="address:192.0.2.7", max_uploads=3, max_blob_bytes=1000)
    for n in (1, 2, 3):
        registry.uploads.create_upload(digest_of(b"%d" % n), n, ACTOR, quota=other)
    with pytest.raises(TooManyUploads):
        registry.uploads.create_upload(digest_of(b"4"), 4, ACTOR, quota=other)
    for n in (5, 6, 7):
        assert_json(open_session(api, n), 201)


def test_past_the_staged_bytes_new_uploads_are_503_staging_full(limited) -> None:
    api, registry = limited
    first = assert_json(open_session(api, 1000), 201)["id"]
    assert_json(open_session(api, 1000), 201)
    problem = assert_problem(open_session(api, 501), 503, "STAGING_FULL")
    assert problem["limit"] == 2500
    data = b"y" * 501
    assert_problem(api.put(f"{API}/blobs/{digest_of(data)}", content=data), 503, "STAGING_FULL")
    # Another client is refused too: the bound is the server's.
    other = UploadQuota(client="address:192.0.2.8", max_uploads=3, max_blob_bytes=1000)
    with pytest.raises(StagingFull):
        registry.uploads.create_upload(digest_of(b"z"), 501, ACTOR, quota=other)
    assert_json(open_session(api, 500), 201)
    assert api.delete(f"{API}/uploads/{first}").status_code == 204
    assert_json(open_session(api, 501), 201)


def test_single_request_uploads_in_flight_count_as_open_uploads(limited) -> None:
    _, registry = limited
    quota = UploadQuota(client="address:192.0.2.9", max_uploads=2, max_blob_bytes=1000)
    uploads = registry.uploads
    first, _ = uploads.begin_direct_upload(digest_of(b"a"), 900, quota)
    uploads.create_upload(digest_of(b"b"), 900, ACTOR, quota=quota)
    with pytest.raises(TooManyUploads):
        uploads.begin_direct_upload(digest_of(b"c"), 1, quota)
    with pytest.raises(StagingFull):  # 900 + 900 declared, and 701 more passes 2500
        uploads.create_upload(digest_of(b"d"), 701, ACTOR)
    uploads.discard_direct_upload(first)
    uploads.discard_direct_upload(first)  # counted once, released once
    second, writer = uploads.begin_direct_upload(digest_of(b"e"), 1, quota)
    writer.write(b"e")
    writer.close()
    assert uploads.finish_direct_upload(second, digest_of(b"e"), 1).complete
    uploads.create_upload(digest_of(b"f"), 1000, ACTOR, quota=quota)


def test_the_quota_seam_decides_who_the_client_is(limited) -> None:
    """Identities will swap the address for a principal in ``upload_quota`` alone."""
    api, _ = limited

    async def principal_quota() -> UploadQuota:
        return UploadQuota(client="principal:alice", max_uploads=1, max_blob_bytes=5)

    api.app.dependency_overrides[upload_quota] = principal_quota  # type: ignore[attr-defined]
    try:
        assert_problem(open_session(api, 6), 413, "BLOB_TOO_LARGE")
        assert_json(open_session(api, 5), 201)
        assert_problem(open_session(api, 4), 429, "TOO_MANY_UPLOADS")
    finally:
        api.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert_json(open_session(api, 4), 201)  # the address is another client


def test_a_patch_past_the_declared_size_is_refused_and_keeps_nothing(api) -> None:
    session = assert_json(
        api.post(f"{API}/uploads", json={"digest": digest_of(DATA), "size": len(DATA)}), 201
    )
    url = f"{API}/uploads/{session['id']}"
    assert_json(api.patch(url, content=DATA[:4], headers={"Upload-Offset": "0"}), 200)
    refused = api.patch(url, content=DATA[4:] + b"!", headers={"Upload-Offset": "4"})
    assert_problem(refused, 400, "SIZE_MISMATCH")
    assert assert_json(api.get(url), 200)["offset"] == 4
    assert assert_json(api.patch(url, content=DATA[4:], headers={"Upload-Offset": "4"}), 200)[
        "offset"
    ] == len(DATA)


def test_a_patch_without_content_length_is_400_and_keeps_nothing(api) -> None:
    """A body of unknown length could only be refused after part of it was kept."""
    session = assert_json(
        api.post(f"{API}/uploads", json={"digest": digest_of(DATA), "size": len(DATA)}), 201
    )
    url = f"{API}/uploads/{session['id']}"
    chunked = api.patch(
        url, content=iter([DATA[:5], DATA[5:] + b"!!"]), headers={"Upload-Offset": "0"}
    )
    assert_problem(chunked, 400, "INVALID_INPUT")
    assert assert_json(api.get(url), 200)["offset"] == 0


def test_at_most_the_parse_slots_handle_large_json_bodies_at_once() -> None:
    """Large JSON bodies wait for a slot; small ones never do."""
    running = peak = 0
    release = asyncio.Event()

    async def app(scope, receive, send) -> None:
        nonlocal running, peak
        message = await receive()
        running += 1
        peak = max(peak, running)
        if len(message["body"]) >= LARGE_JSON:
            await release.wait()
        running -= 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited_app = JsonBodyLimit(app, limit=4 * LARGE_JSON, slots=2)

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=limited_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            large = b"[" + b"0," * (LARGE_JSON // 2) + b"0]"
            headers = {"content-type": "application/json"}
            posts = [
                asyncio.ensure_future(client.post("/", content=large, headers=headers))
                for _ in range(4)
            ]
            await asyncio.sleep(0.2)
            assert peak == 2  # two wait for a slot
            small = await client.post("/", content=b"[0]", headers=headers)
            assert small.status_code == 204  # not held up by the large ones
            release.set()
            return [r.status_code for r in await asyncio.gather(*posts)]

    assert asyncio.run(scenario()) == [204] * 4
    assert peak == 3  # the two large ones, and the small one beside them


def test_racing_sessions_of_one_client_never_pass_its_limit(limited) -> None:
    _, registry = limited
    quota = UploadQuota(client="address:192.0.2.10", max_uploads=3, max_blob_bytes=1000)
    barrier = threading.Barrier(8)

    def open_one(n: int) -> str:
        barrier.wait()
        try:
            registry.uploads.create_upload(digest_of(b"%d" % n), 1, ACTOR, quota=quota)
        except TooManyUploads:
            return "refused"
        return "opened"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(open_one, range(8)))
    assert sorted(outcomes) == ["opened"] * 3 + ["refused"] * 5
    assert len(staged_areas(registry)) == 3
