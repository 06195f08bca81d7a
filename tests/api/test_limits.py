"""One principal cannot exhaust the server: largest blob, open uploads per principal
(all tokens of one user together, two users apart), bytes staged at once, PATCHes that
would pass their session, large JSON bodies at once."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.errors import StagingFull, TooManyUploads
from modeldepot.registry import Registry
from modeldepot.registry.quota import UploadQuota
from modeldepot.security.context import Context
from modeldepot.security.roles import Role
from modeldepot.server.clients import upload_quota
from modeldepot.server.limits import LARGE_JSON, JsonBodyLimit
from tests.api.helpers import API, assert_json, assert_problem, digest_of

DATA = b"0123456789"
LIMITS = UploadQuota(max_uploads=3, max_blob_bytes=1000)


def anonymous_at(address: str) -> Context:
    """An unauthenticated caller allowed to write (an anonymous-write server): counted
    by its address."""
    return Context.system("limits-test", client=address)


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
    other = anonymous_at("192.0.2.7")
    for n in (1, 2, 3):
        registry.uploads.create_upload(other, digest_of(b"%d" % n), n, quota=LIMITS)
    with pytest.raises(TooManyUploads):
        registry.uploads.create_upload(other, digest_of(b"4"), 4, quota=LIMITS)
    for n in (5, 6, 7):
        assert_json(open_session(api, n), 201)


def tokens_of(registry: Registry, user: str, count: int) -> list[dict[str, str]]:
    """Headers for ``count`` tokens of ``user``, a contributor on ``team/``."""
    ctx = Context.system("tests")
    registry.identity.create_principal(ctx, user)
    registry.identity.grant(ctx, user, "team", Role.CONTRIBUTOR)
    return [
        {"Authorization": f"Bearer {registry.identity.create_token(ctx, f't{n}', owner=user).text}"}
        for n in range(count)
    ]


def test_open_sessions_count_per_principal_two_tokens_together_two_users_apart(limited) -> None:
    api, registry = limited
    alice_one, alice_two = tokens_of(registry, "alice", 2)
    (bob,) = tokens_of(registry, "bob", 1)

    def open_as(headers: dict[str, str], n: int) -> httpx.Response:
        body = {"digest": digest_of(b"%d" % n), "size": n, "model": "team/m"}
        return api.post(f"{API}/uploads", json=body, headers=headers)

    assert_json(open_as(alice_one, 1), 201)
    assert_json(open_as(alice_two, 2), 201)
    assert_json(open_as(alice_one, 3), 201)
    # Her third session was opened with another token: the fourth is refused on both.
    assert_problem(open_as(alice_two, 4), 429, "TOO_MANY_UPLOADS")
    assert_problem(open_as(alice_one, 4), 429, "TOO_MANY_UPLOADS")
    put = api.put(
        f"{API}/blobs/{digest_of(b'4')}",
        params={"model": "team/m"},
        content=b"4",
        headers=alice_two,
    )
    assert_problem(put, 429, "TOO_MANY_UPLOADS")  # a single request counts the same
    for n in (5, 6, 7):
        assert_json(open_as(bob, n), 201)  # another user counts apart
    with registry.db.read() as conn:
        keys = conn.exec_driver_sql("SELECT client, count(*) FROM uploads GROUP BY client")
        assert sorted(count for _, count in keys) == [3, 3]


def test_past_the_staged_bytes_new_uploads_are_503_staging_full(limited) -> None:
    api, registry = limited
    first = assert_json(open_session(api, 1000), 201)["id"]
    assert_json(open_session(api, 1000), 201)
    problem = assert_problem(open_session(api, 501), 503, "STAGING_FULL")
    assert problem["limit"] == 2500
    data = b"y" * 501
    assert_problem(api.put(f"{API}/blobs/{digest_of(data)}", content=data), 503, "STAGING_FULL")
    # Another client is refused too: the bound is the server's.
    with pytest.raises(StagingFull):
        registry.uploads.create_upload(
            anonymous_at("192.0.2.8"), digest_of(b"z"), 501, quota=LIMITS
        )
    assert_json(open_session(api, 500), 201)
    assert api.delete(f"{API}/uploads/{first}").status_code == 204
    assert_json(open_session(api, 501), 201)


def test_single_request_uploads_in_flight_count_as_open_uploads(limited) -> None:
    _, registry = limited
    ctx = anonymous_at("192.0.2.9")
    quota = UploadQuota(max_uploads=2, max_blob_bytes=1000)
    uploads = registry.uploads
    first, _ = uploads.begin_direct_upload(ctx, digest_of(b"a"), 900, quota=quota)
    uploads.create_upload(ctx, digest_of(b"b"), 900, quota=quota)
    with pytest.raises(TooManyUploads):
        uploads.begin_direct_upload(ctx, digest_of(b"c"), 1, quota=quota)
    with pytest.raises(StagingFull):  # 900 + 900 declared, and 701 more passes 2500
        uploads.create_upload(anonymous_at("192.0.2.99"), digest_of(b"d"), 701)
    uploads.discard_direct_upload(ctx, first)
    uploads.discard_direct_upload(ctx, first)  # counted once, released once
    second, writer = uploads.begin_direct_upload(ctx, digest_of(b"e"), 1, quota=quota)
    writer.write(b"e")
    writer.close()
    assert uploads.finish_direct_upload(ctx, second, digest_of(b"e"), 1).complete
    uploads.create_upload(ctx, digest_of(b"f"), 1000, quota=quota)


def test_the_quota_seam_decides_the_limits_a_principal_uploads_under(limited) -> None:
    """Limits of a principal's own would be decided in ``upload_quota`` alone."""
    api, _ = limited

    async def own_limits() -> UploadQuota:
        return UploadQuota(max_uploads=1, max_blob_bytes=5)

    api.app.dependency_overrides[upload_quota] = own_limits  # type: ignore[attr-defined]
    try:
        assert_problem(open_session(api, 6), 413, "BLOB_TOO_LARGE")
        assert_json(open_session(api, 5), 201)
        assert_problem(open_session(api, 4), 429, "TOO_MANY_UPLOADS")
    finally:
        api.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert_json(open_session(api, 4), 201)  # the server's limits again: 3 open


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
    ctx = anonymous_at("192.0.2.10")
    barrier = threading.Barrier(8)

    def open_one(n: int) -> str:
        barrier.wait()
        try:
            registry.uploads.create_upload(ctx, digest_of(b"%d" % n), 1, quota=LIMITS)
        except TooManyUploads:
            return "refused"
        return "opened"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(open_one, range(8)))
    assert sorted(outcomes) == ["opened"] * 3 + ["refused"] * 5
    assert len(staged_areas(registry)) == 3
